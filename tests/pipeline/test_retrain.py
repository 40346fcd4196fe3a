"""`movierec retrain`, `promote` and `rollback` over a real MLflow store on synthetic data.

One production model is trained for the module; feedback events then teach a new user a
taste, retraining registers a challenger without touching production, and the aliases move
by hand with their reasons recorded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from movierec.artifacts import read_bundle
from movierec.config import Settings
from movierec.data.mappings import IdMapping
from movierec.data.preprocess import USER_MAPPING_FILE, load_processed
from movierec.pipeline.data_merge import STATE_FILE, MergeError
from movierec.pipeline.promotion import PromotionError, promote, rollback
from movierec.pipeline.retrain import RetrainBusyError, RetrainStatus, exclusive, retrain
from movierec.pipeline.retrainer import create_app
from movierec.serving.engine import Engine
from movierec.serving.loader import load_bundle
from movierec.training import registry
from movierec.training.pipeline import run_pipeline
from tests.conftest import settings_in
from tests.e2e.test_pipeline_synthetic import SMALL_TRAINING
from tests.pipeline.feedback_table import write_events

pytestmark = pytest.mark.e2e
NEW_USER = 1_000_001
FED_MOVIES = {1 + 4 * i for i in range(8)} | {41}  # all of taste group 0 (ids 1 mod 4)


def aliases(settings: Settings) -> dict[str, str]:
    client = MlflowClient(
        tracking_uri=settings.training.mlflow.tracking_uri,
        registry_uri=settings.training.mlflow.tracking_uri,
    )
    model = client.get_registered_model(settings.training.mlflow.registered_model_name)
    return {alias: str(version) for alias, version in model.aliases.items()}


def version_tags(settings: Settings, version: str) -> dict[str, str]:
    client = MlflowClient(
        tracking_uri=settings.training.mlflow.tracking_uri,
        registry_uri=settings.training.mlflow.tracking_uri,
    )
    name = settings.training.mlflow.registered_model_name
    return dict(client.get_model_version(name, version).tags)


@pytest.fixture(scope="module")
def retrained(
    tmp_path_factory: pytest.TempPathFactory, synthetic_mirror: tuple[Path, dict[str, str]]
) -> tuple[Settings, RetrainStatus]:
    """Production version 1 from the pipeline, then feedback and one retraining run."""
    root = tmp_path_factory.mktemp("retrain")
    settings = settings_in(root, synthetic_mirror[0], synthetic_mirror[1], training=SMALL_TRAINING)
    run_pipeline(settings)
    # A new user rates the first movies of group 0 (ids 1, 5, 9, ...), and clicks two others.
    events = [(NEW_USER, 1 + 4 * i, "rating", 5.0, 2e9 + i) for i in range(8)]
    events += [(NEW_USER, 41, "click", None, 2e9 + 9), (3, 2, "dislike", None, 2e9 + 10)]
    write_events(settings.serving.log_db, events)
    return settings, retrain(settings)


def test_retrain_registers_a_challenger_and_leaves_production_alone(
    retrained: tuple[Settings, RetrainStatus],
) -> None:
    settings, status = retrained
    assert status.result == "challenger", status.gate_reason
    assert status.new_events == 10 and status.model_version == "2"
    assert aliases(settings) == {"production": "1", "challenger": "2"}
    assert read_bundle(settings.training.export_dir).metadata.version == "1"
    assert read_bundle(settings.retrain.challenger_export_dir).metadata.version == "2"
    assert "against popularity" in (status.gate_reason or "")
    assert "users" in (status.gate_reason or "")
    tags = version_tags(settings, "2")
    assert tags[registry.TAG_GATE] == "promoted" and "gate_vs_popularity" in tags
    users = IdMapping.load(settings.data.processed_dir / USER_MAPPING_FILE)
    assert users.to_index(np.array([NEW_USER]))[0] >= 0
    recorded = json.loads(settings.retrain.status_file.read_text())
    assert recorded["result"] == "challenger" and set(recorded["stage_seconds"]) == {
        "merge",
        "process",
        "train",
    }


def test_the_challenger_is_fitted_on_the_feedback(
    retrained: tuple[Settings, RetrainStatus],
) -> None:
    # Feedback is the newest data: under global_time it would all be held out as test.
    settings, _ = retrained
    assert settings.data.split.strategy == "global_time"
    processed = load_processed(settings.data.processed_dir)
    fed = {(NEW_USER, movie) for movie in FED_MOVIES}

    def pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
        return set(zip(frame["user_id"], frame["movie_id"], strict=True))

    assert fed <= pairs(processed.train)
    assert not fed & (pairs(processed.val) | pairs(processed.test))
    assert processed.report["kept_in_train"] == len(fed)
    challenger = load_bundle(settings.retrain.challenger_export_dir)
    row = challenger.user_rows.get(NEW_USER)
    assert row is not None
    assert set(challenger.item_ids[challenger.user_items[row].indices]) == FED_MOVIES
    # Served from what it learnt: the rest of the new user's taste group comes first.
    ranking = Engine(challenger, max_k=10).recommend(NEW_USER, k=10)
    top = challenger.item_ids[ranking.columns]
    assert not ranking.is_fallback and int((top % 4 == 1).sum()) >= 8, top.tolist()


def test_a_run_never_overlaps_another(retrained: tuple[Settings, RetrainStatus]) -> None:
    settings, _ = retrained
    with exclusive(settings.retrain.lock_file), pytest.raises(RetrainBusyError, match="pid"):
        retrain(settings)
    assert aliases(settings)["production"] == "1"


def test_a_failed_run_is_recorded_and_leaves_the_champion_untouched(
    retrained: tuple[Settings, RetrainStatus],
) -> None:
    settings, _ = retrained
    state = settings.retrain.feedback_dir / STATE_FILE
    saved = state.read_bytes()
    state.write_bytes(b"not parquet")
    try:
        with pytest.raises(MergeError, match="unreadable"):
            retrain(settings)
    finally:
        state.write_bytes(saved)
    recorded = json.loads(settings.retrain.status_file.read_text())
    assert recorded["result"] == "failed" and "MergeError" in recorded["error"]
    assert aliases(settings)["production"] == "1"
    assert read_bundle(settings.training.export_dir).metadata.version == "1"


def test_retrainer_health_shows_the_last_run(retrained: tuple[Settings, RetrainStatus]) -> None:
    settings, _ = retrained
    quiet = settings.model_copy(
        update={"retrain": settings.retrain.model_copy(update={"min_new_events": 10**9})}
    )
    with TestClient(create_app(quiet)) as client:
        health = client.get("/health").json()
    assert health["status"] == "ok" and health["min_new_events"] == 10**9
    assert health["last_run"]["result"] in {"challenger", "failed"}


def test_promote_then_rollback_move_production_with_their_reasons(
    retrained: tuple[Settings, RetrainStatus], tmp_path: Path
) -> None:
    settings, _ = retrained
    backup = tmp_path / "mlflow.db"
    shutil.copy(settings.training.mlflow.tracking_uri.removeprefix("sqlite:///"), backup)
    with pytest.raises(PromotionError, match="0 impressions online"):
        promote(settings, "no traffic yet")
    moved = promote(settings, "better on the new taste", force=True)
    assert (moved.version, moved.previous) == ("2", "1")
    assert aliases(settings) == {"production": "2"}
    assert read_bundle(settings.training.export_dir).metadata.version == "2"
    assert not settings.retrain.challenger_export_dir.exists()  # withdrawn from serving
    assert version_tags(settings, "2")["promotion_reason"] == "better on the new taste"
    with pytest.raises(PromotionError, match="run `movierec retrain` first"):
        promote(settings, "again")

    back = rollback(settings, "clicks dropped")
    assert (back.version, back.previous) == ("1", "2")
    assert aliases(settings) == {"production": "1"}
    assert read_bundle(settings.training.export_dir).metadata.version == "1"
    assert version_tags(settings, "1")["rollback_reason"] == "clicks dropped"
    assert version_tags(settings, "2")["rolled_back_reason"] == "clicks dropped"
    with pytest.raises(PromotionError, match="no version 9"):
        rollback(settings, "typo", version="9")
