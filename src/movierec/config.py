"""Typed settings: `configs/*.yaml` overridden by environment variables.

Each YAML file in the config directory (`MOVIEREC_CONFIG_DIR`, default `configs/`) holds one
or more top-level sections (`data`, `training`, `serving`, `frontend`, `monitoring`,
`system`, `store`, `auth`). Any
field can be overridden by an environment variable named `MOVIEREC_<SECTION>__<FIELD>`
(nested fields add `__<SUBFIELD>`), for example `MOVIEREC_SERVING__PORT=9000` or
`MOVIEREC_DATA__SPLIT__STRATEGY=leave_last_n`. Three short names are honoured as well:
`MOVIELENS_BASE_URL` (data.base_url), `MOVIEREC_ADMIN_TOKEN` (serving.admin_token) and
`MOVIEREC_API_URL` (frontend.api_url). List and mapping fields take JSON, for example
`MOVIEREC_TRAINING__MODELS='["popularity","als"]'`.

Every way of getting the configuration wrong (a value out of range, a list that is not JSON,
malformed YAML, a `MOVIEREC_CONFIG_DIR` that does not exist) is a one-line `ConfigError` that
names the variable, file or field and says what is expected.

Usage:
    >>> from movierec.config import get_settings
    >>> get_settings().serving.port
    8000
"""

from __future__ import annotations

import json
import os
import reprlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from movierec.models.registry import ModelChoices, every_model

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


class SimilarSettings(Section):
    """How the /similar table is built: shrunk cosine of audiences with a popularity penalty."""

    shrinkage: float = Field(50.0, ge=0)
    popularity_penalty: float = Field(0.3, ge=0)
    neighbours: int = Field(100, ge=1)


class IndexSettings(Section):
    kind: Literal["flat", "hnsw"] = "flat"
    hnsw_m: int = Field(32, ge=4)
    hnsw_ef_construction: int = Field(80, ge=1)


class MlflowSettings(Section):
    tracking_uri: str = "sqlite:///mlflow.db"
    artifact_location: Path = Path("mlartifacts")
    experiment_name: str = "movie-recommender"
    registered_model_name: str = "movie-recommender"
    production_alias: str = "production"
    ui_port: int = Field(5000, ge=1, le=65535)


class SparkSettings(Section):
    """The Spark session of `training.engine: spark` (see movierec.training.engines.spark)."""

    master: str = "local[*]"
    app_name: str = "movierec-training"
    driver_memory: str = "2g"
    shuffle_partitions: int = Field(8, ge=1)
    # ALS blocks per side (users, items): the parallelism of one ALS sweep.
    blocks: int = Field(4, ge=1)
    # Where the workers read the processed files (an hdfs://, s3a:// or shared-disk URI holding
    # a copy of data.processed_dir); empty reads data.processed_dir itself.
    processed_uri: str = ""
    # Any further Spark configuration, e.g. {"spark.executor.memory": "8g"}.
    conf: dict[str, str] = Field(default_factory=dict)


class GridLimit(Section):
    """At most `points` grid points per model on data of up to `up_to_interactions` training
    interactions (None: any size)."""

    up_to_interactions: int | None = Field(None, ge=1)
    points: int = Field(ge=1)


def _default_grid_limits() -> list[GridLimit]:
    return [
        GridLimit(up_to_interactions=2_000_000, points=1000),
        GridLimit(up_to_interactions=20_000_000, points=2),
        GridLimit(points=1),
    ]


class SearchSettings(Section):
    sample_users: int = Field(20000, ge=0)
    grid_points: list[GridLimit] = Field(default_factory=_default_grid_limits, min_length=1)


class TrainingSettings(Section):
    # Kinds, parameters and search grids are declared by the models (movierec.models.registry).
    models: ModelChoices = Field(
        default_factory=every_model,
        examples=[["popularity", "als"], {"als": {"factors": 64}}],
    )
    on_unfit: Literal["skip", "fail"] = "skip"
    memory_budget_gb: float = Field(6.0, gt=0)
    block_memory_mb: int = Field(512, ge=1)
    threads: int = Field(0, ge=0)
    parallel_from_interactions: int = Field(1_000_000, ge=0)
    search: SearchSettings = Field(default_factory=SearchSettings)
    k_values: list[int] = Field(default_factory=lambda: [5, 10, 20], min_length=1)
    selection_metric: str = "ndcg@10"
    bootstrap_samples: int = Field(1000, ge=0)
    seed: int = 42
    similar: SimilarSettings = Field(default_factory=SimilarSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    export_dir: Path = Path("models/production")
    engine: Literal["local", "spark"] = "local"
    spark: SparkSettings = Field(default_factory=SparkSettings)

    @field_validator("selection_metric")
    @classmethod
    def _metric_at_k(cls, value: str) -> str:
        name, _, k = value.partition("@")
        if not name or not k.isdigit():
            raise ValueError(f"expected '<metric>@<k>' such as 'ndcg@10', got {value!r}")
        return value.lower()


class ApproximateSettings(Section):
    """/recommend from the bundle's HNSW item index (`training.index.kind: hnsw`) instead of
    scoring every movie: `candidates` neighbours beyond k and the seen items, HNSW's
    `ef_search`. Off by default: exact scoring is faster on MovieLens-sized catalogues."""

    enabled: bool = False
    candidates: int = Field(50, ge=0)
    ef_search: int = Field(128, ge=1)


class ServerLimits(Section):
    """Connection limits of the API server: uvicorn's own settings under their uvicorn names,
    and the two `movierec.api.protocol` adds (a deadline for and a bound on request headers)."""

    timeout_keep_alive: int = Field(5, ge=1)
    limit_concurrency: int = Field(1000, ge=1)
    backlog: int = Field(2048, ge=1)
    timeout_graceful_shutdown: int = Field(8, ge=1)
    header_timeout: float = Field(5.0, gt=0)
    max_header_bytes: int = Field(16384, ge=1024)


class ServingSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    worker_start_timeout_s: int = Field(60, ge=1)
    model_dir: Path = Path("models/production")
    log_db: Path = Path("data/logs/requests.db")
    log_queue_size: int = Field(10000, ge=1)
    log_batch_size: int = Field(256, ge=1)
    log_flush_interval_s: float = Field(0.5, gt=0)
    # Feedback events: written at least this often, and read back (other workers' events)
    # this often, so an event reaches every worker within about the sum of the two.
    feedback_flush_interval_s: float = Field(0.1, gt=0)
    feedback_poll_interval_s: float = Field(0.2, gt=0)
    max_k: int = Field(100, ge=1)
    approximate: ApproximateSettings = Field(default_factory=ApproximateSettings)
    max_body_bytes: int = Field(16384, ge=256)
    bundle_copy_below_bytes: int = Field(64 * 2**20, ge=0)
    admin_token: str = ""
    # Each worker looks at the production pointer this often and switches on a change.
    reload_poll_s: float = Field(2.0, gt=0)
    # The challenger's bundle (exported by `movierec retrain`) and the share of users, sticky
    # by a hash of the user id, whose /recommend it answers while it is there.
    challenger_dir: Path = Path("models/challenger")
    challenger_share: float = Field(0.1, ge=0, le=1)
    limits: ServerLimits = Field(default_factory=ServerLimits)


class FrontendSettings(Section):
    api_url: str = "http://localhost:8000"
    # The API as a browser reaches it (docs links); differs from api_url inside Docker.
    public_api_url: str = "http://localhost:8000"
    port: int = Field(8502, ge=1, le=65535)
    timeout_s: float = Field(5.0, gt=0)
    # The MLflow UI as a visitor's browser reaches it; the About page links the model there.
    mlflow_url: str = "http://localhost:5000"


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
    # Feedback on /recommend answers of held-out users: a click on every shown held-out movie,
    # then its held-out rating for `rating_share` of them and a dislike for `dislike_share` of
    # the other shown movies (0 and 0 with `feedback: false` for no feedback at all).
    feedback: bool = True
    rating_share: float = Field(0.3, ge=0, le=1)
    dislike_share: float = Field(0.02, ge=0, le=1)


class RetentionSettings(Section):
    """How long the request log keeps rows (`movierec.store.retention`); null disables a limit."""

    max_age_days: float | None = Field(30.0, gt=0)
    max_rows: int | None = Field(5_000_000, ge=1)
    interval_s: float = Field(300.0, gt=0)


class MonitoringSettings(Section):
    dashboard_port: int = Field(8501, ge=1, le=65535)
    log_db: Path = Path("data/logs/requests.db")
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    bucket: str = "1min"
    replay_k: int = Field(10, ge=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)


def _config_dir() -> Path:
    """`MOVIEREC_CONFIG_DIR`, which must exist when it is set; else `configs/` if present."""
    given = os.environ.get("MOVIEREC_CONFIG_DIR")
    if not given:
        return Path("configs")
    if not Path(given).is_dir():
        raise ConfigError(
            f"MOVIEREC_CONFIG_DIR={given} is not a folder; point it at the folder holding the "
            "*.yaml settings (the repository's configs/) or unset it"
        )
    return Path(given)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's several-line message as `line N, column M: problem (context)`."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return " ".join(str(exc).split())
    mark = exc.problem_mark
    context = f" ({exc.context})" if exc.context else ""
    return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}{context}"


class SystemSettings(Section):
    """`movierec up`: how long services may take to start and to stop."""

    start_timeout_s: float = Field(180.0, gt=0)
    mlflow_ui_timeout_s: float = Field(180.0, gt=0)
    stop_grace_s: float = Field(10.0, gt=0)


class RetrainGateSettings(Section):
    """The paired offline gate of `movierec retrain`: bootstrap of per-user differences."""

    # A challenger must beat the champion's per-user NDCG by more than this lower bound;
    # negative allows a small, noise-sized loss.
    champion_tolerance: float = -0.01
    level: float = Field(0.95, gt=0, lt=1)


class RetrainSettings(Section):
    """`movierec retrain` and the `retrainer` service (section `retrain` in training.yaml)."""

    interval_s: float = Field(3600.0, gt=0)
    min_new_events: int = Field(100, ge=0)
    feedback_dir: Path = Path("data/feedback")
    lock_file: Path = Path("data/retrain.lock")
    status_file: Path = Path("data/retrain/status.json")
    # Implicit events as the rating they stand for (it becomes a confidence weight as the
    # dataset's ratings do); a dislike removes the pair (`movierec.pipeline.data_merge`).
    event_ratings: dict[str, float] = Field(default_factory=lambda: {"click": 3.0, "watch": 4.0})
    challenger_alias: str = "challenger"
    # `movierec promote` of the challenger needs this many of its impressions online, and
    # its click-through and rating rates not significantly below the champion's.
    min_impressions: int = Field(1000, ge=0)
    # The retrainer promotes the challenger by that rule on each check (withdraws it when
    # clearly worse); its last decision goes to `promotion_file`.
    auto_promote: bool = True
    # While that challenger waits for its impressions (with auto_promote) the retrainer
    # starts no new run (one would replace it), unless it has waited this long since its
    # registration.
    challenger_max_wait_s: float = Field(86400.0, ge=0)
    promotion_file: Path = Path("data/retrain/promotion.json")
    # Where a new challenger is exported for serving (serving.challenger_dir reads it).
    challenger_export_dir: Path = Path("models/challenger")
    host: str = "127.0.0.1"
    port: int = Field(8503, ge=1, le=65535)
    gate: RetrainGateSettings = Field(default_factory=RetrainGateSettings)

    @field_validator("event_ratings")
    @classmethod
    def _implicit_events(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - {"click", "watch"})
        if unknown:
            raise ValueError(f"only click and watch take a rating here, not {unknown}")
        return value


class StoreSettings(Section):
    """The database (`movierec.store`): a SQLAlchemy URL such as
    `postgresql+psycopg://user:password@host:5432/movierec`; empty means SQLite, in the file
    `serving.log_db` for the API and `monitoring.log_db` for monitoring."""

    url: str = ""


class AuthSettings(Section):
    """Accounts and API keys (`movierec.api.access`). `demo` (the default) lets anyone act for
    a MovieLens user without signing in; `required` needs a token or an API key for every
    personal route, and a `secret` of at least 32 characters to sign tokens with. Without one
    a demo API signs with a random secret of its own (sign-ins end when it restarts). Login
    limits are in the notation of the `limits` library, e.g. "5/minute"."""

    mode: Literal["demo", "required"] = "demo"
    secret: SecretStr = SecretStr("")
    access_token_ttl_s: int = Field(900, ge=1)
    refresh_token_ttl_s: int = Field(30 * 24 * 3600, ge=1)
    failed_logins_per_account: str = "5/minute"
    failed_logins_per_address: str = "20/minute"

    @field_validator("failed_logins_per_account", "failed_logins_per_address")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"expected a rate such as '5/minute' or '20 per hour', got {value!r}"
            ) from None
        return value


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
                raise ConfigError(
                    f"{path}: not valid YAML at {_yaml_problem(exc)}; fix the file"
                ) from exc
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot be read ({exc})") from exc
            if not isinstance(content, dict):
                raise ConfigError(
                    f"{path}: expected a mapping of sections such as 'data:', "
                    f"got {reprlib.repr(content)}"
                )
            for section, values in content.items():
                if not isinstance(values or {}, dict):
                    raise ConfigError(
                        f"{path}: section {section!r} must be a mapping of fields, "
                        f"got {reprlib.repr(values)}"
                    )
                merged.setdefault(section, {}).update(values or {})
        return merged


def _json_form(field: FieldInfo | None) -> str:
    """What a list or mapping variable must hold, with an example taken from the default."""
    if field is not None and field.examples:  # a field that takes several forms names them
        kinds = " or ".join(
            sorted({"list" if isinstance(e, list) else "object" for e in field.examples})
        )
        shown = " or ".join(f"'{json.dumps(e, separators=(',', ':'))}'" for e in field.examples)
        return f"a JSON {kinds}, e.g. {shown}"
    default = field.get_default(call_default_factory=True) if field is not None else None
    if isinstance(default, BaseModel):  # a section or sub-section: show its first field
        default = dict(list(default.model_dump(mode="json").items())[:1])
    if not isinstance(default, list | dict):
        return "valid JSON"
    kind = "list" if isinstance(default, list) else "object"
    example = f", e.g. '{json.dumps(default, separators=(',', ':'))}'" if default else ""
    return f"a JSON {kind}{example}"


class _EnvVariables(EnvSettingsSource):
    """The `MOVIEREC_*` variables; a list or mapping that is not JSON names its variable."""

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        try:  # pydantic-settings passes None for a dict's values despite its annotation
            return super().decode_complex_value(field_name, field, value)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ConfigError(
                f"{self._variable_of(field_name, value)} must be {_json_form(field)} "
                f"(got {value!r})"
            ) from exc

    def _variable_of(self, field_name: str, value: str) -> str:
        """The variable holding `value` for `field_name` (the source is told only the field)."""
        top = f"{self.env_prefix}{field_name}".lower()
        nested = f"{self.env_nested_delimiter}{field_name}".lower()
        names = sorted(
            name
            for name, text in self.env_vars.items()
            if text == value and name.lower().endswith((top, nested))
        )
        return (names[0] if names else top).upper()


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
    system: SystemSettings = Field(default_factory=SystemSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _EnvVariables(settings_cls),
            _ShortEnvNames(settings_cls),
            _YamlDirectorySource(settings_cls, _config_dir()),
        )


def _source_of(loc: tuple[int | str, ...]) -> str | None:
    """The variable that set the field at `loc` (or a field inside it) if one did."""
    path = [part.upper() for part in loc if isinstance(part, str)]
    candidates = ["MOVIEREC_" + "__".join(path[:depth]) for depth in range(len(path), 0, -1)]
    candidates += [
        name for name, field in SHORT_ENV_NAMES.items() if [f.upper() for f in field] == path[:2]
    ]
    if path:
        inside = "MOVIEREC_" + "__".join(path) + "__"
        candidates += sorted(name for name in os.environ if name.startswith(inside))
    return next((name for name in candidates if name in os.environ), None)


def _problem(error: Any) -> str:
    """One validation error: the field, what is wrong, the value and where it came from."""
    variable = _source_of(error["loc"])
    source = variable or f"{os.environ.get('MOVIEREC_CONFIG_DIR') or 'configs'}/*.yaml"
    value = os.environ[variable] if variable else error.get("input")
    given = f"in {source}" if error["type"] == "missing" else f"got {value!r} from {source}"
    return f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']} ({given})"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from YAML, environment and `overrides`; a bad value names its field."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # a source failed; ours explain themselves
        if isinstance(exc.__cause__, ConfigError):
            raise exc.__cause__ from None
        raise ConfigError(f"invalid configuration: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
