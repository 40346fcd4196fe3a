"""Typed settings: `configs/*.yaml` overridden by environment variables.

Each YAML file in the config directory (`MOVIEREC_CONFIG_DIR`, default `configs/`) holds one
or more top-level sections (`data`, `training`, `serving`, `frontend`, `monitoring`). Any
field can be overridden by an environment variable named `MOVIEREC_<SECTION>__<FIELD>`
(nested fields add `__<SUBFIELD>`), for example `MOVIEREC_SERVING__PORT=9000` or
`MOVIEREC_DATA__SPLIT__STRATEGY=leave_last_n`. Three short names are honoured as well:
`MOVIELENS_BASE_URL` (data.base_url), `MOVIEREC_ADMIN_TOKEN` (serving.admin_token) and
`MOVIEREC_API_URL` (frontend.api_url).

Usage:
    >>> from movierec.config import get_settings
    >>> get_settings().serving.port
    8000
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DatasetName = Literal[
    "ml-100k",
    "ml-1m",
    "ml-10m",
    "ml-20m",
    "ml-25m",
    "ml-32m",
    "ml-latest",
    "ml-latest-small",
]
ModelKind = Literal["popularity", "item_item", "als", "ease"]
ALL_MODELS: tuple[ModelKind, ...] = ("popularity", "item_item", "als", "ease")
SplitStrategy = Literal["global_time", "leave_last_n", "stratified_random"]

SHORT_ENV_NAMES: dict[str, tuple[str, str]] = {
    "MOVIELENS_BASE_URL": ("data", "base_url"),
    "MOVIEREC_ADMIN_TOKEN": ("serving", "admin_token"),
    "MOVIEREC_API_URL": ("frontend", "api_url"),
}


class ConfigError(ValueError):
    """The configuration cannot be read or does not validate; the message names the field."""


class Section(BaseModel):
    """A settings section: unknown keys are typos, so they are rejected."""

    model_config = ConfigDict(extra="forbid")


class SplitSettings(Section):
    strategy: SplitStrategy = "global_time"
    val_fraction: float = Field(0.1, gt=0, lt=0.5)
    test_fraction: float = Field(0.1, gt=0, lt=0.5)
    last_n: int = Field(1, ge=1)
    test_ratio: float = Field(0.25, gt=0, lt=1)
    val_ratio: float = Field(0.1, gt=0, lt=1)
    seed: int = 42


class DataSettings(Section):
    dataset: DatasetName = "ml-100k"
    base_url: str = "https://files.grouplens.org/datasets/movielens"
    raw_dir: Path = Path("data/raw")
    processed_dir: Path = Path("data/processed")
    features_dir: Path = Path("data/features")
    download_timeout_s: float = Field(60.0, gt=0)
    download_retries: int = Field(3, ge=0)
    checksums: dict[str, dict[str, str]] = Field(default_factory=dict)
    min_user_interactions: int = Field(5, ge=1)
    min_item_interactions: int = Field(1, ge=1)
    confidence: Literal["linear", "log", "binary"] = "linear"
    confidence_alpha: float = Field(1.0, ge=0)
    split: SplitSettings = Field(default_factory=SplitSettings)


class ItemItemSettings(Section):
    neighbours: int = Field(100, ge=1)
    shrinkage: float = Field(10.0, ge=0)


class AlsSearch(Section):
    factors: list[int] = Field(default_factory=lambda: [32, 64, 128])
    regularization: list[float] = Field(default_factory=lambda: [0.01, 0.1])


class AlsSettings(Section):
    factors: int = Field(64, ge=1)
    regularization: float = Field(0.05, ge=0)
    iterations: int = Field(15, ge=1)
    alpha: float = Field(1.0, gt=0)
    weighting: Literal["bm25", "confidence", "none"] = "bm25"
    bm25_k1: float = Field(1.2, gt=0)
    bm25_b: float = Field(0.5, ge=0, le=1)
    search: AlsSearch = Field(default_factory=AlsSearch)


class EaseSearch(Section):
    l2: list[float] = Field(default_factory=lambda: [50.0, 100.0, 250.0, 500.0, 1000.0])


class EaseSettings(Section):
    l2: float = Field(250.0, gt=0)
    max_items: int = Field(20000, ge=1)
    search: EaseSearch = Field(default_factory=EaseSearch)


class IndexSettings(Section):
    kind: Literal["flat", "hnsw"] = "flat"
    hnsw_m: int = Field(32, ge=4)
    hnsw_ef_search: int = Field(128, ge=1)


class MlflowSettings(Section):
    tracking_uri: str = "sqlite:///mlflow.db"
    artifact_location: Path = Path("mlartifacts")
    experiment_name: str = "movie-recommender"
    registered_model_name: str = "movie-recommender"
    production_alias: str = "production"
    ui_port: int = Field(5000, ge=1, le=65535)


class TrainingSettings(Section):
    models: list[ModelKind] = Field(default_factory=lambda: list(ALL_MODELS), min_length=1)
    k_values: list[int] = Field(default_factory=lambda: [5, 10, 20], min_length=1)
    selection_metric: str = "ndcg@10"
    bootstrap_samples: int = Field(1000, ge=0)
    seed: int = 42
    embedding_dim: int = Field(64, ge=2)
    item_item: ItemItemSettings = Field(default_factory=ItemItemSettings)
    als: AlsSettings = Field(default_factory=AlsSettings)
    ease: EaseSettings = Field(default_factory=EaseSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    export_dir: Path = Path("models/production")

    @field_validator("selection_metric")
    @classmethod
    def _metric_at_k(cls, value: str) -> str:
        name, _, k = value.partition("@")
        if not name or not k.isdigit():
            raise ValueError(f"expected '<metric>@<k>' such as 'ndcg@10', got {value!r}")
        return value.lower()


class ServingSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    model_dir: Path = Path("models/production")
    log_db: Path = Path("data/logs/requests.db")
    log_queue_size: int = Field(10000, ge=1)
    log_batch_size: int = Field(256, ge=1)
    log_flush_interval_s: float = Field(0.5, gt=0)
    max_k: int = Field(100, ge=1)
    max_body_bytes: int = Field(16384, ge=256)
    admin_token: str = ""


class FrontendSettings(Section):
    api_url: str = "http://localhost:8000"
    port: int = Field(8502, ge=1, le=65535)
    timeout_s: float = Field(5.0, gt=0)


class Thresholds(Section):
    p99_latency_ms: float = Field(50.0, gt=0)
    p50_latency_ms: float = Field(10.0, gt=0)
    fallback_rate: float = Field(0.2, ge=0, le=1)
    min_coverage: float = Field(0.05, ge=0, le=1)
    max_gini: float = Field(0.95, ge=0, le=1)


class SimulatorSettings(Section):
    rate: float = Field(20.0, gt=0)
    duration_s: float = Field(30.0, gt=0)
    max_requests: int = Field(10000, ge=1)
    unknown_user_share: float = Field(0.05, ge=0, le=1)
    similar_share: float = Field(0.2, ge=0, le=1)
    popular_share: float = Field(0.1, ge=0, le=1)


class MonitoringSettings(Section):
    dashboard_port: int = Field(8501, ge=1, le=65535)
    log_db: Path = Path("data/logs/requests.db")
    bucket: str = "1min"
    replay_k: int = Field(10, ge=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)


class StoreSettings(Section):
    """The database (`movierec.store`): a SQLAlchemy URL such as
    `postgresql+psycopg://user:password@host:5432/movierec`; empty means SQLite, in the file
    `serving.log_db` for the API and `monitoring.log_db` for monitoring."""

    url: str = ""


class _YamlDirectorySource(PydanticBaseSettingsSource):
    """Reads every `*.yaml` file of the config directory and merges their sections."""

    def __init__(self, settings_cls: type[BaseSettings], config_dir: Path) -> None:
        super().__init__(settings_cls)
        self.config_dir = config_dir

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        if not self.config_dir.is_dir():
            return merged
        for path in sorted(self.config_dir.glob("*.yaml")):
            try:
                content = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path}: not valid YAML ({exc}); fix the file") from exc
            if not isinstance(content, dict):
                raise ConfigError(f"{path}: expected a mapping of sections, got {type(content)}")
            for section, values in content.items():
                merged.setdefault(section, {}).update(values or {})
        return merged


class _ShortEnvNames(PydanticBaseSettingsSource):
    """The documented short environment variables such as MOVIELENS_BASE_URL."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for env_name, (section, field) in SHORT_ENV_NAMES.items():
            if env_name in os.environ:
                values.setdefault(section, {})[field] = os.environ[env_name]
        return values


class Settings(BaseSettings):
    """All settings of the system, one section per layer."""

    model_config = SettingsConfigDict(
        env_prefix="MOVIEREC_", env_nested_delimiter="__", extra="forbid"
    )

    data: DataSettings = Field(default_factory=DataSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    frontend: FrontendSettings = Field(default_factory=FrontendSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_dir = Path(os.environ.get("MOVIEREC_CONFIG_DIR", "configs"))
        return (
            init_settings,
            env_settings,
            _ShortEnvNames(settings_cls),
            _YamlDirectorySource(settings_cls, config_dir),
        )


def load_settings(**overrides: Any) -> Settings:
    """Build settings from YAML, environment and `overrides`; a bad value names its field."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}"
            + (f" (got {err['input']!r})" if "input" in err and err["type"] != "missing" else "")
            for err in exc.errors()
        )
        raise ConfigError(
            f"invalid configuration: {problems}. Fix configs/*.yaml or the MOVIEREC_* variable."
        ) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
