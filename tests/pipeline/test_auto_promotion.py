"""The retrainer's automatic promotion over a real MLflow store: promote, withdraw, wait.

One production model is trained for the module and registered again as version 2, the
challenger; each test starts from production 1 and challenger 2 both exported, writes a
request log with engagement per version, and lets the retrainer's check decide. The last
tests feed events enough for a run: it waits for the challenger's impressions, then (past
`retrain.challenger_max_wait_s`) runs `movierec retrain` as a child in the module's root.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from movierec.artifacts import read_bundle
from movierec.config import Settings
from movierec.pipeline.promotion import TAG_WITHDRAWN
from movierec.pipeline.retrainer import Scheduler, create_app
from movierec.training import registry
from movierec.training.export import export_alias, export_production
from movierec.training.pipeline import run_pipeline
from tests.conftest import settings_in
from tests.e2e.test_pipeline_synthetic import SMALL_TRAINING, small_training_environment
from tests.monitoring.log_rows import Event, Row, write_feedback, write_log
from tests.pipeline.feedback_table import write_events
from tests.pipeline.test_retrain import aliases, version_tags

pytestmark = pytest.mark.e2e
MIN_IMPRESSIONS = 50
SHOWN = list(range(1, 11))  # every logged answer shows these ten movies
AUTOMATIC_TAGS = ("promotion_reason", "promotion_online", TAG_WITHDRAWN)


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, synthetic_mirror: tuple[Path, dict[str, str]]
) -> Settings:
    """Production version 1 from the pipeline; its bundle registered again as version 2."""
    root = tmp_path_factory.mktemp("auto-promotion")
    retrain = {"min_impressions": MIN_IMPRESSIONS, "min_new_events": 10**9}
    settings = settings_in(
        root, synthetic_mirror[0], synthetic_mirror[1], training=SMALL_TRAINING, retrain=retrain
    )
    run_pipeline(settings)
    names = settings.training.mlflow
    client = registry.tracking_client(names)
    first = registry.aliased_version(client, names.registered_model_name, names.production_alias)
    assert first is not None and str(first.version) == "1"
    registry.register_bundle(client, names.registered_model_name, str(first.run_id), {})
    return settings


@pytest.fixture
def served(trained: Settings, tmp_path: Path) -> Settings:
    """Production 1 and challenger 2, both exported, no automatic tags; an empty log."""
    names = trained.training.mlflow
    client = registry.tracking_client(names)
    name = names.registered_model_name
    registry.set_alias(client, name, names.production_alias, "1")
    registry.set_alias(client, name, trained.retrain.challenger_alias, "2")
    for key in set(version_tags(trained, "2")) & set(AUTOMATIC_TAGS):
        client.delete_model_version_tag(name, "2", key)
    export_production(trained)
    export_alias(trained, trained.retrain.challenger_alias, trained.retrain.challenger_export_dir)
    trained.retrain.promotion_file.unlink(missing_ok=True)
    monitoring = trained.monitoring.model_copy(update={"log_db": tmp_path / "requests.db"})
    return trained.model_copy(update={"monitoring": monitoring})


def log_engagement(settings: Settings, version: str, answers: int, clicks: int) -> None:
    """`answers` logged answers of `version`, each with `clicks` of its movies clicked."""
    rows = [
        Row(datetime(2026, 1, 1, tzinfo=UTC), user_id=n, recommendations=SHOWN)
        for n in range(answers)
    ]
    for row in rows:
        row.model_version = version
    write_log(settings.monitoring.log_db, rows)
    events = [Event(row.request_id, movie) for row in rows for movie in SHOWN[:clicks]]
    write_feedback(settings.monitoring.log_db, events)


def decided(settings: Settings) -> dict[str, object]:
    """One retrainer check; the promotion decision its health then reports."""
    scheduler = Scheduler(settings)
    scheduler.check()
    decision = scheduler.health()["last_promotion"]
    assert decision is not None and decision["time"] <= time.time()
    return dict(decision)


def test_a_challenger_no_worse_online_is_promoted(served: Settings) -> None:
    log_engagement(served, "1", answers=20, clicks=5)
    log_engagement(served, "2", answers=10, clicks=5)
    off = served.model_copy(
        update={"retrain": served.retrain.model_copy(update={"auto_promote": False})}
    )
    Scheduler(off).check()
    assert aliases(served) == {"production": "1", "challenger": "2"}

    decision = decided(served)
    online = "online over 100 impressions: ctr 50.00% vs 50.00%, rating rate 0.00% vs 0.00%"
    assert decision == {
        "decision": "promoted",
        "version": "2",
        "reason": f"automatic: {online}",
        "time": decision["time"],
    }
    assert aliases(served) == {"production": "2"}
    assert read_bundle(served.training.export_dir).metadata.version == "2"
    assert not served.retrain.challenger_export_dir.exists()
    tags = version_tags(served, "2")
    assert tags["promotion_reason"] == f"automatic: {online}"
    assert tags["promotion_online"] == online and tags["previous_production"] == "1"


def test_a_challenger_clearly_worse_online_is_withdrawn(served: Settings) -> None:
    log_engagement(served, "1", answers=20, clicks=5)
    log_engagement(served, "2", answers=10, clicks=0)
    decision = decided(served)
    assert (decision["decision"], decision["version"]) == ("withdrawn", "2")
    reason = str(decision["reason"])
    assert reason.startswith("automatic: challenger version 2's ctr 0.00% [0.00%, 3.70%]")
    assert "is below the champion's 50.00%" in reason and "--force" not in reason
    assert aliases(served) == {"production": "1"}
    assert read_bundle(served.training.export_dir).metadata.version == "1"
    assert not served.retrain.challenger_export_dir.exists()
    tags = version_tags(served, "2")
    assert tags[TAG_WITHDRAWN] == reason and "promotion_reason" not in tags


def test_a_challenger_below_min_impressions_waits_and_health_says_so(served: Settings) -> None:
    log_engagement(served, "1", answers=20, clicks=5)
    log_engagement(served, "2", answers=3, clicks=0)
    with TestClient(create_app(served)) as client:  # the service checks once at start
        deadline = time.monotonic() + 30
        while (health := client.get("/health").json())["last_promotion"] is None:
            assert time.monotonic() < deadline, health
            time.sleep(0.05)
    assert health["auto_promote"] is True and health["min_impressions"] == MIN_IMPRESSIONS
    decision = health["last_promotion"]
    assert (decision["decision"], decision["version"]) == ("waiting", "2")
    assert decision["reason"] == (
        "challenger version 2 has 30 impressions online, fewer than retrain.min_impressions=50"
    )
    assert aliases(served) == {"production": "1", "challenger": "2"}
    assert read_bundle(served.training.export_dir).metadata.version == "1"
    assert read_bundle(served.retrain.challenger_export_dir).metadata.version == "2"
    assert not set(version_tags(served, "2")) & set(AUTOMATIC_TAGS)


@pytest.fixture
def eager(
    served: Settings,
    synthetic_mirror: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """`served` retraining on 5 new events; a run (`movierec retrain`, a child process in
    the module's root with the module's settings) would replace the challenger."""
    root = served.training.export_dir.parents[1]
    mirror, checksums = synthetic_mirror
    monkeypatch.chdir(root)
    environment = {
        **small_training_environment(root, mirror, checksums),
        "MOVIEREC_TRAINING__MLFLOW__TRACKING_URI": served.training.mlflow.tracking_uri,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    events = [(2_000_001, 1 + 4 * i, "rating", 5.0, time.time() + i) for i in range(5)]
    write_events(served.serving.log_db, events)
    retrain = served.retrain.model_copy(update={"min_new_events": 5})
    return served.model_copy(update={"retrain": retrain})


def test_a_challenger_collecting_impressions_holds_new_runs_back(eager: Settings) -> None:
    log_engagement(eager, "1", answers=20, clicks=5)
    log_engagement(eager, "2", answers=3, clicks=0)
    scheduler = Scheduler(eager)
    scheduler.check()
    health = scheduler.health()
    check = health["last_check"]
    assert check["new_events"] >= 5 and check["retrain"] is False, check
    assert check["waiting"].startswith(
        "waiting for the challenger's impressions: 30 of 50 (version 2, "
    ), check
    assert check["waiting"].endswith(" s of retrain.challenger_max_wait_s=86400)")
    assert health["challenger_max_wait_s"] == 86400
    assert scheduler.exit_code is None and health["last_run"] is None
    assert health["last_promotion"]["decision"] == "waiting"
    assert aliases(eager) == {"production": "1", "challenger": "2"}


def test_a_challenger_past_its_maximum_wait_may_be_replaced(eager: Settings) -> None:
    log_engagement(eager, "2", answers=3, clicks=0)
    retrain = eager.retrain.model_copy(update={"challenger_max_wait_s": 0.0})
    scheduler = Scheduler(eager.model_copy(update={"retrain": retrain}))
    before = time.time()
    scheduler.check()
    health = scheduler.health()
    check = health["last_check"]
    assert check["retrain"] is True and "waiting" not in check, check
    assert check["replacing"].startswith("challenger version 2 has 30 of 50 impressions after ")
    assert check["replacing"].endswith("retrain.challenger_max_wait_s=0: a new run may replace it")
    run = health["last_run"]
    assert scheduler.exit_code == 0 and run["started_at"] >= before, run
    assert run["new_events"] >= 5 and run["result"] in {"challenger", "refused"}, run
