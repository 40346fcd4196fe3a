"""MLflow tracking and registry over a local SQLite store: no server needed.

Runs log params, metrics and tags (data fingerprint, git commit); the production bundle is
logged as a plain artifact directory (`log_bundle`) and registered as a version of
`movie-recommender` with the run's artifact location as its source. The `production` alias
names the served version; its validation score and data provenance are kept as version tags
for the gate (`movierec.training.gate`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from movierec.artifacts import METRICS, ArtifactBundle, write_json
from movierec.config import MlflowSettings

BUNDLE_ARTIFACT_PATH = "bundle"
# Version tags written at registration and read back by the gate and by export.
TAG_DATASET = "dataset"
TAG_SPLIT = "split_strategy"
TAG_MODEL_KIND = "model_kind"
TAG_MODEL_PARAMS = "model_params"
TAG_FINGERPRINT = "data_fingerprint"
TAG_GATE = "quality_gate"
TAG_GATE_REASON = "quality_gate_reason"


class RegistryError(RuntimeError):
    """The MLflow store or registry cannot give what was asked; the message says what to do."""


def tracking_client(settings: MlflowSettings) -> MlflowClient:
    """Point MLflow at the configured store and return a client for it."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def ensure_experiment(client: MlflowClient, settings: MlflowSettings) -> str:
    """The experiment id, creating it with artifacts under `artifact_location` if needed."""
    experiment = client.get_experiment_by_name(settings.experiment_name)
    if experiment is not None:
        return str(experiment.experiment_id)
    location = Path(settings.artifact_location).resolve()
    location.mkdir(parents=True, exist_ok=True)
    return str(client.create_experiment(settings.experiment_name, location.as_uri()))


def git_commit() -> str:
    """The commit of the working tree, or "unknown" outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def log_flat_metrics(metrics: Mapping[str, float], prefix: str = "") -> None:
    """Log metrics to the active run; MLflow names may not hold '@', so it becomes '_at_'."""
    mlflow.log_metrics({f"{prefix}{key.replace('@', '_at_')}": v for key, v in metrics.items()})


def log_params(params: Mapping[str, Any], prefix: str = "") -> None:
    """Log hyper-parameters to the active run."""
    mlflow.log_params({f"{prefix}{key}": value for key, value in params.items()})


def log_bundle(bundle: ArtifactBundle, index_bytes: bytes, evaluation: Mapping[str, Any]) -> None:
    """Log the bundle, with `evaluation` as its metrics.json, as the active run's artifacts."""
    with tempfile.TemporaryDirectory(prefix="movierec-bundle-") as staging:
        directory = Path(staging)
        bundle.write(directory, index_bytes)
        write_json(directory / METRICS, evaluation)
        mlflow.log_artifacts(str(directory), artifact_path=BUNDLE_ARTIFACT_PATH)


def register_bundle(
    client: MlflowClient, name: str, run_id: str, tags: Mapping[str, str]
) -> ModelVersion:
    """Register the run's logged bundle directory as a new version of model `name`."""
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name, description="Movie recommender production bundles")
    source = f"{client.get_run(run_id).info.artifact_uri}/{BUNDLE_ARTIFACT_PATH}"
    version: ModelVersion = client.create_model_version(
        name, source, run_id=run_id, tags=dict(tags), await_creation_for=0
    )
    return version


def aliased_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version the alias points to, or None when the model or the alias does not exist."""
    models = client.search_registered_models(filter_string=f"name = '{name}'")
    if not models or alias not in models[0].aliases:
        return None
    version: ModelVersion = client.get_model_version(name, models[0].aliases[alias])
    return version


def set_alias(client: MlflowClient, name: str, alias: str, version: str) -> None:
    """Point `alias` at `version`."""
    client.set_registered_model_alias(name, alias, version)


def tag_version(client: MlflowClient, version: ModelVersion, tags: Mapping[str, str]) -> None:
    """Add tags to a registered version."""
    for key, value in tags.items():
        client.set_model_version_tag(version.name, str(version.version), key, value)


def download_version(version: ModelVersion, destination: Path) -> Path:
    """Download the bundle of `version` into `destination`; returns the bundle directory."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=version.source, dst_path=str(destination)
        )
    except Exception as exc:  # MLflow raises several types for a missing artifact location
        raise RegistryError(
            f"cannot download version {version.version} of {version.name} from "
            f"{version.source}: {exc}. Retrain with `movierec train`."
        ) from exc
    return Path(local)
