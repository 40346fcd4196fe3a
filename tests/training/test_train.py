"""Training runs that go wrong: candidates that cannot run, fail half way, or are resumed.

Real parts: the processed synthetic data, the SQLite MLflow store and its artifacts. The one
stand-in is a fit that runs out of memory, which cannot be made to happen for real here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from movierec.config import Settings
from movierec.data.preprocess import run_preprocess
from movierec.features.build import run_build_features
from movierec.models import MODEL_CLASSES, EaseRecommender
from movierec.training import TrainingError
from movierec.training.train import train
from tests.conftest import settings_in

SMALL_ALS = {"factors": 8, "iterations": 5, "search": {"factors": [8], "regularization": [0.1]}}


@pytest.fixture(scope="module")
def processed(
    tmp_path_factory: pytest.TempPathFactory, synthetic_mirror: tuple[Path, dict[str, str]]
) -> Path:
    """The synthetic data processed and featurised once for the module."""
    root = tmp_path_factory.mktemp("processed")
    settings = settings_in(root, *synthetic_mirror)
    run_preprocess(settings.data)
    run_build_features(settings.data)
    return root


def settings_for(root: Path, processed: Path, **training: object) -> Settings:
    """Settings reading the module's processed data, tracking into `root`."""
    models = dict.fromkeys(MODEL_CLASSES) | {
        "popularity": {},
        "als": SMALL_ALS,
        "ease": {"embedding_dim": 8, "search": {"l2": [10.0, 100.0]}},
    }
    return settings_in(
        root,
        processed / "mirror",
        data={
            "processed_dir": processed / "data/processed",
            "features_dir": processed / "data/features",
        },
        training={"models": models, **training},
    )


def candidate_runs(settings: Settings) -> dict[str, list[Run]]:
    """The candidate runs of the experiment by kind, newest first."""
    client = MlflowClient(
        tracking_uri=settings.training.mlflow.tracking_uri,
        registry_uri=settings.training.mlflow.tracking_uri,
    )
    experiment = client.get_experiment_by_name(settings.training.mlflow.experiment_name)
    runs = client.search_runs(
        [experiment.experiment_id], "tags.candidate_key != ''", order_by=["start_time DESC"]
    )
    by_kind: dict[str, list[Run]] = {}
    for run in runs:
        by_kind.setdefault(run.info.run_name, []).append(run)
    return by_kind


def test_a_catalogue_above_ease_limit_trains_the_others_without_fitting_ease(
    tmp_path: Path, processed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = {"popularity": {}, "als": SMALL_ALS, "ease": {"max_items": 50}}
    settings = settings_for(tmp_path, processed, models=dict.fromkeys(MODEL_CLASSES) | models)

    def never(*_: object) -> None:
        raise AssertionError("EASE was fitted although its limit is below the catalogue")

    monkeypatch.setattr(EaseRecommender, "_fit_weights", never)
    report = train(settings)

    assert set(report.candidates) == {"popularity", "als"} and report.winner == "als"
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("skipping ease: EASE needs a dense 90 x 90 Gram matrix")
    client = MlflowClient(
        tracking_uri=settings.training.mlflow.tracking_uri,
        registry_uri=settings.training.mlflow.tracking_uri,
    )
    tags = client.get_run(report.run_id).data.tags
    assert tags["skipped_candidates"] == report.warnings[0]
    assert set(candidate_runs(settings)) == {"popularity", "als"}


def test_a_failing_candidate_keeps_the_finished_ones_and_resume_trains_only_the_rest(
    tmp_path: Path, processed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path, processed)
    with monkeypatch.context() as patched:

        def out_of_memory(*_: object) -> None:
            raise MemoryError("Unable to allocate the Gram matrix")

        patched.setattr(EaseRecommender, "_fit_weights", out_of_memory)
        first = train(settings)
        # on_unfit: fail stops at the failure, saying what is kept and how to go on
        failing = settings.model_copy(deep=True)
        failing.training.on_unfit = "fail"
        with pytest.raises(TrainingError, match=r"ease failed \(MemoryError: Unable.*--resume"):
            train(failing)

    assert set(first.candidates) == {"popularity", "als"}
    assert first.warnings == [
        "ease failed and is left out: MemoryError: Unable to allocate the Gram matrix"
    ]
    client = MlflowClient(
        tracking_uri=settings.training.mlflow.tracking_uri,
        registry_uri=settings.training.mlflow.tracking_uri,
    )
    assert (
        client.get_run(first.run_id).data.tags["failed_candidates"].startswith("ease: MemoryError")
    )
    runs = candidate_runs(settings)
    assert [run.info.status for run in runs["ease"]] == ["FAILED", "FAILED"]
    # the latest finished run of each: the failing second run's
    finished = {kind: runs[kind][0].info.run_id for kind in ("popularity", "als")}
    assert all(run.info.status == "FINISHED" for kind in finished for run in runs[kind])

    resumed = train(settings, resume=True)

    assert resumed.resumed == finished  # taken over, not trained again
    assert set(resumed.candidates) == {"popularity", "als", "ease"}
    for kind in finished:
        assert resumed.candidates[kind].to_dict() == first.candidates[kind].to_dict()
    assert len(candidate_runs(settings)["als"]) == 2  # the first run's and the failing one's

    # other parameters are another candidate: trained anew
    changed = settings.model_copy(deep=True)
    changed.training.models = type(settings.training.models).model_validate(
        {"popularity": {}, "als": {**SMALL_ALS, "factors": 4, "search": {"factors": [4]}}}
    )
    again = train(changed, resume=True)
    assert set(again.resumed) == {"popularity"}
