"""The whole offline pipeline on synthetic MovieLens: registry, alias, gate and atomic export.

Real parts throughout: the SQLite MLflow store, artifact files, the registry and the export
directory, all under tmp_path.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from movierec.artifacts import (
    ITEM_EMBEDDINGS,
    ITEM_FEATURES,
    MANIFEST,
    METRICS,
    MODEL_METADATA,
    ModelMetadata,
    read_bundle,
    read_json,
    required_files,
)
from movierec.config import Settings
from movierec.data.preprocess import run_preprocess
from movierec.features.build import run_build_features
from movierec.models import MODEL_CLASSES
from movierec.training import registry as tracking
from movierec.training.export import ExportError, export_production
from movierec.training.pipeline import STAGES, run_pipeline
from movierec.training.train import train
from tests.conftest import settings_in
from tests.servers import REPO_ROOT

pytestmark = pytest.mark.e2e


def only(**models: object) -> dict[str, object]:
    """`training.models` with just these kinds: null leaves out the others the YAML lists."""
    return dict.fromkeys(MODEL_CLASSES) | models


SMALL_TRAINING = {
    "models": only(
        popularity={},
        als={
            "factors": 8,
            "iterations": 5,
            "alpha": 0.5,
            "weighting": "confidence",
            "search": {"factors": [8], "regularization": [0.1]},
        },
        ease={"embedding_dim": 8, "search": {"l2": [10.0, 100.0]}},
    ),
}


def small_training_environment(
    root: Path, mirror: Path, checksums: dict[str, str]
) -> dict[str, str]:
    """What makes a `movierec` child process working in `root` train on the synthetic
    `mirror` as `SMALL_TRAINING` says, as `settings_in` does in the test's own process."""
    return {
        "MOVIEREC_CONFIG_DIR": str(REPO_ROOT / "configs"),
        "MOVIELENS_BASE_URL": str(mirror),
        "MOVIEREC_DATA__CHECKSUMS": json.dumps({"ml-100k": checksums}),
        "MOVIEREC_TRAINING__MODELS": json.dumps(SMALL_TRAINING["models"]),
        "MOVIEREC_TRAINING__BOOTSTRAP_SAMPLES": "50",
        "MOVIEREC_TRAINING__MLFLOW__ARTIFACT_LOCATION": str(root / "mlartifacts"),
    }


def small_settings(root: Path, mirror: tuple[Path, dict[str, str]], **training: object) -> Settings:
    return settings_in(root, mirror[0], mirror[1], training={**SMALL_TRAINING, **training})


def production(settings: Settings) -> str | None:
    names = settings.training.mlflow
    client = tracking.tracking_client(names)
    version = tracking.aliased_version(client, names.registered_model_name, names.production_alias)
    return None if version is None else str(version.version)


def test_pipeline_registers_gates_and_exports_every_artifact(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    settings = small_settings(tmp_path, synthetic_mirror)
    report = run_pipeline(settings)

    assert set(report.stage_seconds) == set(STAGES)
    assert report.training is not None
    assert report.training.gate.promote, report.training.gate.reason
    assert production(settings) == report.training.model_version == "1"

    exported = settings.training.export_dir
    assert report.export_dir == exported and exported.is_symlink()
    metadata = ModelMetadata.model_validate(read_json(exported / MODEL_METADATA))
    for name in (*required_files(metadata.scorer), METRICS):
        assert (exported / name).is_file(), name
    assert metadata.version == "1"
    assert metadata.model_kind == report.training.winner != "popularity"
    assert metadata.dataset == "ml-100k" and metadata.split_strategy == "global_time"
    assert metadata.trained_at and metadata.run_id == report.training.run_id
    assert metadata.hyperparameters == report.training.candidates[metadata.model_kind].params
    assert metadata.metrics["test"]["ndcg@10"] > 0
    assert len(metadata.data_fingerprint) == 64
    # u.item's IMDb links (odd ids of the synthetic data) reach the bundle; others have none.
    links = {item["movie_id"]: item.get("url") for item in read_json(exported / ITEM_FEATURES)}
    assert links[1] == "https://www.imdb.com/find/?q=Synthetic+Movie+1+%281980%29&s=tt"
    assert all((url is not None) == (movie_id % 2 == 1) for movie_id, url in links.items())

    evaluation = read_json(exported / METRICS)
    assert set(evaluation["candidates"]) == {"popularity", "als", "ease"}
    for result in evaluation["candidates"].values():
        for part in ("validation", "test"):
            assert result[part]["users_evaluated"] > 0
            for k in (5, 10, 20):
                value = result[part]["metrics"][f"ndcg@{k}"]
                assert value["ci_low"] <= value["mean"] <= value["ci_high"]
    winner = evaluation["candidates"][evaluation["winner"]]
    popularity = evaluation["candidates"]["popularity"]
    assert (
        winner["validation"]["metrics"]["ndcg@10"]["mean"]
        > popularity["validation"]["metrics"]["ndcg@10"]["mean"]
    )

    client = MlflowClient(
        tracking_uri=settings.training.mlflow.tracking_uri,
        registry_uri=settings.training.mlflow.tracking_uri,
    )
    run = client.get_run(report.training.run_id)
    assert run.data.tags[tracking.TAG_FINGERPRINT] == metadata.data_fingerprint
    assert run.data.tags["git_commit"]
    assert run.data.tags[tracking.TAG_GATE] == "promoted"
    assert "ease.val.ndcg_at_10" in run.data.metrics

    def children(run_id: str) -> list[Run]:
        return client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")

    # one run per candidate, recorded with its result and model, its grid points under it
    candidates = children(run.info.run_id)
    assert sorted(c.info.run_name for c in candidates) == ["als", "ease", "popularity"]
    points = {"popularity": 1, "als": 1, "ease": 2}
    for candidate in candidates:
        kind = candidate.info.run_name
        assert candidate.info.status == "FINISHED"
        assert candidate.data.tags[tracking.TAG_FINGERPRINT] == metadata.data_fingerprint
        assert (
            candidate.data.metrics["test_ndcg_at_10"] == run.data.metrics[f"{kind}.test.ndcg_at_10"]
        )
        artifacts = {a.path for a in client.list_artifacts(candidate.info.run_id)}
        # the validation per user is kept for the paired gate of a resumed run
        assert artifacts == {"candidate.json", "model", "validation_per_user.npy"}
        assert len(children(candidate.info.run_id)) == points[kind]


def test_train_registers_and_gates_without_exporting_and_export_serves_it(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    settings = small_settings(tmp_path, synthetic_mirror)
    run_preprocess(settings.data)
    run_build_features(settings.data)

    report = train(settings)

    assert report.gate.promote, report.gate.reason
    assert production(settings) == report.production_version == report.model_version == "1"
    exported = settings.training.export_dir
    assert not exported.exists()  # training registers; exporting is the next stage

    assert export_production(settings) == exported
    bundle = read_bundle(exported)
    assert bundle.metadata.version == "1" and bundle.metadata.run_id == report.run_id
    assert bundle.metadata.model_kind == report.winner
    assert read_json(exported / METRICS) == report.evaluation
    # The release is sealed: a manifest of every other file, and nothing writable.
    listed = set(read_json(exported / MANIFEST)["files"])
    assert listed == {path.name for path in exported.iterdir()} - {MANIFEST}
    assert {path.stat().st_mode & 0o777 for path in exported.iterdir()} == {0o444}


def test_gate_refuses_models_worse_than_production_or_popularity(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    settings = small_settings(tmp_path, synthetic_mirror)
    run_pipeline(settings)
    first = read_json(settings.training.export_dir / MODEL_METADATA)

    # item-item with 3 neighbours beats popularity but is far below the EASE in production.
    weaker = small_settings(
        tmp_path,
        synthetic_mirror,
        models=only(popularity={}, item_item={"neighbours": 3, "embedding_dim": 8}),
    )
    report = train(weaker)
    assert not report.gate.promote
    assert "worse than production version 1" in report.gate.reason
    # with 1 neighbour it does not even beat popularity
    worst = small_settings(
        tmp_path,
        synthetic_mirror,
        models=only(popularity={}, item_item={"neighbours": 1, "embedding_dim": 8}),
    )
    refused = train(worst)
    assert "does not beat popularity" in refused.gate.reason

    assert production(settings) == "1"
    client = MlflowClient(
        tracking_uri=settings.training.mlflow.tracking_uri,
        registry_uri=settings.training.mlflow.tracking_uri,
    )
    version = client.get_model_version(settings.training.mlflow.registered_model_name, "2")
    assert version.tags[tracking.TAG_GATE] == "refused"
    assert version.tags[tracking.TAG_GATE_REASON] == report.gate.reason
    assert client.get_run(report.run_id).data.tags[tracking.TAG_GATE_REASON] == report.gate.reason
    assert read_json(settings.training.export_dir / MODEL_METADATA) == first


def test_export_keeps_old_production_when_the_new_bundle_is_corrupt(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    settings = small_settings(tmp_path, synthetic_mirror)
    run_pipeline(settings)
    exported = settings.training.export_dir
    before = {p.name: p.read_bytes() for p in exported.iterdir()}

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name, content in before.items():
        (corrupt / name).write_bytes(content)
    embeddings = np.load(corrupt / ITEM_EMBEDDINGS)
    embeddings[0, 0] = np.nan
    np.save(corrupt / ITEM_EMBEDDINGS, embeddings)
    names = settings.training.mlflow
    client = tracking.tracking_client(names)
    with mlflow.start_run(experiment_id=tracking.ensure_experiment(client, names)) as run:
        mlflow.log_artifacts(str(corrupt), artifact_path=tracking.BUNDLE_ARTIFACT_PATH)
    version = tracking.register_bundle(client, names.registered_model_name, run.info.run_id, {})
    tracking.set_alias(client, names.registered_model_name, names.production_alias, version.version)

    with pytest.raises(ExportError, match="NaN"):
        export_production(settings)
    assert {p.name: p.read_bytes() for p in exported.iterdir()} == before
    releases = exported.parent / "releases"
    assert not [p for p in releases.iterdir() if p.name.startswith(".staging")]

    tracking.set_alias(client, names.registered_model_name, names.production_alias, "1")
    assert export_production(settings) == exported
    assert read_json(exported / MODEL_METADATA)["version"] == "1"
