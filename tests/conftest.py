"""Shared fixtures: synthetic MovieLens data, a mirror of it, and settings rooted in tmp dirs."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.config import Settings, load_settings
from tests.bundles import build_synthetic_bundle
from tests.synthetic import SyntheticMovieLens, generate, write_ml100k_zip

REPO_ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.databases"]  # the store's backends: `database`, `postgres_url`


def real_mirror() -> Path | None:
    """The local MovieLens mirror (MOVIELENS_BASE_URL or ../shared/data/movielens), if present."""
    candidates = [
        os.environ.get("MOVIELENS_BASE_URL", ""),
        str(REPO_ROOT.parent / "shared/data/movielens"),
    ]
    for candidate in candidates:
        path = Path(candidate.removeprefix("file://")) if candidate else None
        if path is not None and (path / "ml-100k.zip").is_file():
            return path
    return None


requires_ml100k = pytest.mark.skipif(
    real_mirror() is None,
    reason="MovieLens mirror not found: set MOVIELENS_BASE_URL to a folder holding ml-100k.zip",
)


@pytest.fixture(autouse=True)
def _stop_signals_kept() -> Iterator[None]:
    """Fail a test that leaves the runner's SIGINT or SIGTERM handler changed.

    Every process the later tests start would inherit an ignored SIGTERM, and an obedient
    child would then survive its stop: one such test once turned three others red.
    """
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    before = {signum: signal.getsignal(signum) for signum in stop_signals}
    yield
    changed = [signum for signum in stop_signals if signal.getsignal(signum) != before[signum]]
    for signum in changed:
        signal.signal(signum, before[signum])
    assert not changed, f"the test left the handlers of {changed} changed"


@pytest.fixture(scope="session")
def synthetic_data() -> SyntheticMovieLens:
    return generate()


@pytest.fixture(scope="session")
def synthetic_mirror(
    tmp_path_factory: pytest.TempPathFactory, synthetic_data: SyntheticMovieLens
) -> tuple[Path, dict[str, str]]:
    """A folder holding a synthetic `ml-100k.zip`, and the checksums of its data files."""
    directory = tmp_path_factory.mktemp("mirror")
    checksums = write_ml100k_zip(synthetic_data, directory)
    return directory, checksums


def settings_in(
    root: Path, mirror: Path, checksums: dict[str, str] | None = None, **sections: dict
) -> Settings:
    """Settings whose every path lives under `root`, reading ml-100k from `mirror`.

    `checksums` are those of the mirror's ml-100k files; None keeps configs/data.yaml's (the
    real ml-100k's), so a real mirror is verified as in production.
    """
    data = {
        "base_url": str(mirror),
        "raw_dir": root / "data/raw",
        "processed_dir": root / "data/processed",
        "features_dir": root / "data/features",
        **sections.pop("data", {}),
    }
    training = {
        "bootstrap_samples": 50,
        "export_dir": root / "models/production",
        "mlflow": {
            "tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
            "artifact_location": root / "mlartifacts",
        },
        **sections.pop("training", {}),
    }
    serving = {
        "model_dir": root / "models/production",
        "challenger_dir": root / "models/challenger",
        "log_db": root / "data/logs/requests.db",
        **sections.pop("serving", {}),
    }
    monitoring = {"log_db": root / "data/logs/requests.db", **sections.pop("monitoring", {})}
    retrain = {
        "feedback_dir": root / "data/feedback",
        "lock_file": root / "data/retrain.lock",
        "status_file": root / "data/retrain/status.json",
        "promotion_file": root / "data/retrain/promotion.json",
        "challenger_export_dir": root / "models/challenger",
        **sections.pop("retrain", {}),
    }
    settings = load_settings(
        data=data,
        training=training,
        serving=serving,
        monitoring=monitoring,
        retrain=retrain,
        **sections,
    )
    if checksums is not None:
        # Assigned after loading: keyword overrides are deep-merged into configs/data.yaml,
        # which would otherwise keep the real files' checksums beside the synthetic ones.
        settings.data.checksums = {"ml-100k": checksums}
    return settings


@pytest.fixture
def synthetic_settings(tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]) -> Settings:
    """Settings rooted in a fresh tmp dir, reading the synthetic mirror with verified checksums."""
    mirror, checksums = synthetic_mirror
    return settings_in(tmp_path, mirror, checksums)


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One bundle per scorer, built once per session (tests must not modify them)."""
    root = tmp_path_factory.mktemp("bundles")
    return {
        scorer: build_synthetic_bundle(root / scorer, scorer)
        for scorer in ("embeddings", "item_weights")
    }
