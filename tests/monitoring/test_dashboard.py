"""The dashboard script under Streamlit's AppTest, on a populated, an empty and a missing log."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Connection, insert
from streamlit.testing.v1 import AppTest

from movierec.store.database import create_engine
from movierec.store.tables import request_logs
from movierec.streamlit_app import DASHBOARD_APP
from tests.conftest import REPO_ROOT
from tests.monitoring.conftest import KNOWN_EVENTS, at
from tests.monitoring.log_rows import write_feedback, write_log

ENGAGEMENT_EMPTY = (
    "No feedback on the recommendations in this window yet. It arrives through "
    "`POST /feedback` (the frontend's ratings) and `movierec simulate`, which clicks "
    "and rates like people do."
)


@pytest.fixture
def dashboard_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings pointing at tmp paths: a 12-item bundle (version v2) and a held-out split."""
    model_dir = tmp_path / "production"
    model_dir.mkdir()
    (model_dir / "item_mapping.json").write_text(json.dumps({str(m): m - 1 for m in range(1, 13)}))
    metadata = {
        "version": "v2",
        "model_name": "movie-recommender",
        "model_kind": "als",
        "metrics": {"validation": {"precision@10": 0.5}, "test": {"precision@10": 0.2}},
    }
    (model_dir / "model_metadata.json").write_text(json.dumps(metadata))
    processed = tmp_path / "processed"
    processed.mkdir()
    pd.DataFrame(
        {"user_id": [1, 2, 3], "movie_id": [2, 5, 8], "rating": 4, "timestamp": 0, "confidence": 1}
    ).to_parquet(processed / "test.parquet", index=False)
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(REPO_ROOT / "configs"))
    monkeypatch.setenv("MOVIEREC_SERVING__MODEL_DIR", str(model_dir))
    monkeypatch.setenv("MOVIEREC_DATA__PROCESSED_DIR", str(processed))
    log_db = tmp_path / "logs" / "requests.db"
    monkeypatch.setenv("MOVIEREC_MONITORING__LOG_DB", str(log_db))
    return log_db


def run_dashboard() -> AppTest:
    app = AppTest.from_file(str(DASHBOARD_APP), default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_populated_log_shows_cards_charts_alerts_and_replay(
    dashboard_env: Path, known_log_rows: list
) -> None:
    write_log(dashboard_env, known_log_rows)
    app = run_dashboard()
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Requests"] == "7"
    assert metrics["Unique users"] == "4"
    assert metrics["p50 latency"] == "3.0 ms"
    assert metrics["p99 latency"] == "9.8 ms"
    assert metrics["Fallback rate"] == "40.0%"
    assert metrics["Coverage"] == "75.0%"
    assert metrics["Gini"] == "0.472"
    # Only the fallback rate (0.4) breaches the default thresholds (0.2).
    assert len(app.error) == 1 and "fallback_rate" in app.error[0].value
    assert [info.value for info in app.info] == [ENGAGEMENT_EMPTY], "no feedback in this log"
    subheaders = [header.value for header in app.subheader]
    assert "Traffic" in subheaders and "Latency over time" in subheaders
    assert any(header.startswith("Replay evaluation") for header in subheaders)
    charts = app.get("vega_lite_chart")
    assert len(charts) == 7
    assert '"title": "requests per 5s"' in charts[0].proto.spec  # 2-minute span, auto bucket
    fallbacks = json.loads(charts[4].proto.spec)
    assert fallbacks["encoding"]["y"]["axis"]["labelLimit"] == 0  # "insufficient_candidates"
    replay = app.dataframe[-1].value
    assert list(replay.index) == ["v1", "v2"]
    assert replay.loc["v2", "offline precision@10"] == pytest.approx(0.2)


def test_engagement_panel_shows_the_kpis_with_intervals(
    dashboard_env: Path, known_log_rows: list
) -> None:
    write_feedback(write_log(dashboard_env, known_log_rows), KNOWN_EVENTS)
    app = run_dashboard()
    metrics = {metric.label: metric for metric in app.metric}
    # 4 clicks, 3 ratings (4, 5, 3) and 1 dislike on 15 impressions (test_engagement).
    assert metrics["CTR"].value == "26.7%" and "interval 10.9% to 52.0%" in metrics["CTR"].help
    assert metrics["Rating rate"].value == "20.0%"
    assert metrics["Dislike rate"].value == "6.7%"
    assert metrics["Mean rating"].value == "4.00"
    assert not any(info.value == ENGAGEMENT_EMPTY for info in app.info)
    table = next(frame.value for frame in app.dataframe if "CTR" in frame.value.columns)
    assert list(table.index) == ["v1", "v2"]
    assert table.loc["v1", "CTR"].startswith("33.3% (")
    assert table.loc["v2", "mean rating"] == "3.00"  # one rating: no interval
    charts = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    engagement = [spec for spec in charts if '"field": "line"' in json.dumps(spec)]
    assert len(engagement) == 2
    titles = [spec["layer"][0]["encoding"]["y"]["title"] for spec in engagement]
    assert titles == ["model version", "answer path"]


def test_window_selector_narrows_to_nothing(dashboard_env: Path, known_log_rows: list) -> None:
    write_log(dashboard_env, known_log_rows)  # all rows are from 2024
    app = run_dashboard()
    app.radio[0].set_value("Last 15 minutes").run()
    assert not app.exception
    assert not app.metric
    assert "No requests logged in the last 15 minutes" in app.info[0].value


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_missing_or_empty_log_is_a_friendly_message(dashboard_env: Path, state: str) -> None:
    if state == "empty":
        write_log(dashboard_env, [])
    app = run_dashboard()
    assert not app.error and not app.metric
    message = app.info[0].value
    assert "No requests logged yet" in message and "movierec simulate" in message
    assert str(dashboard_env) in message


def test_latency_over_time_draws_one_line_per_percentile_of_a_picked_endpoint(
    dashboard_env: Path, known_log_rows: list
) -> None:
    write_log(dashboard_env, known_log_rows)
    app = run_dashboard()
    spec = json.loads(app.get("vega_lite_chart")[1].proto.spec)  # beside the traffic chart
    assert spec["encoding"]["color"]["field"] == "percentile"
    assert spec["encoding"]["color"]["scale"]["domain"] == ["p50", "p95", "p99"]
    (picker,) = spec["params"]
    assert picker["bind"]["input"] == "select" and picker["value"] == "/recommend"
    assert picker["bind"]["options"] == ["/recommend", "/similar", "/popular"]
    assert {"filter": "(datum.endpoint === endpoint)"} in spec["transform"]


def write_open(log_db: Path, row: dict) -> Connection:
    """Insert `row` through a writer kept open, so that it stays in the write-ahead log."""
    conn = create_engine(log_db).connect()
    conn.execute(insert(request_logs).values(**row))
    conn.commit()
    return conn


def test_a_new_request_shows_on_the_next_run_despite_the_cache(
    dashboard_env: Path, known_log_rows: list
) -> None:
    write_log(dashboard_env, known_log_rows)
    app = run_dashboard()
    assert {metric.label: metric.value for metric in app.metric}["Requests"] == "7"
    app.run()  # same files: the cached reports
    assert {metric.label: metric.value for metric in app.metric}["Requests"] == "7"
    row = {
        "request_id": str(uuid.uuid4()),
        "timestamp": at(2, 30),
        "user_id": 4,
        "endpoint": "/recommend",
        "model_version": "v2",
        "recommendations": "[1, 2]",
        "scores": "[1.0, 0.5]",
        "latency_ms": 2.0,
        "is_fallback": False,
        "fallback_reason": None,
    }
    conn = write_open(dashboard_env, row)
    try:
        app.run()
    finally:
        conn.close()
    assert not app.exception
    assert {metric.label: metric.value for metric in app.metric}["Requests"] == "8"


@pytest.mark.parametrize("result", ["failed", "challenger", None])
def test_the_last_retraining_run_is_in_the_sidebar(
    dashboard_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, result: str | None
) -> None:
    status = tmp_path / "retrain/status.json"
    monkeypatch.setenv("MOVIEREC_RETRAIN__STATUS_FILE", str(status))
    if result is not None:
        status.parent.mkdir(parents=True)
        run = {"result": result, "finished_at": 1.8e9, "seconds": 14.2, "new_events": 120}
        run |= {"model_version": "7", "gate_reason": "bound above zero", "error": "MergeError: x"}
        status.write_text(json.dumps(run))
    app = run_dashboard()
    if result == "failed":
        assert "failed, production untouched. MergeError: x" in app.sidebar.error[0].value
    elif result == "challenger":
        assert "version 7 is the challenger" in app.sidebar.success[0].value
    else:
        assert any("No retraining run yet" in c.value for c in app.sidebar.caption)


@pytest.mark.parametrize("decision", ["promoted", "withdrawn", None])
def test_the_last_promotion_decision_is_in_the_sidebar(
    dashboard_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decision: str | None
) -> None:
    recorded = tmp_path / "retrain/promotion.json"
    monkeypatch.setenv("MOVIEREC_RETRAIN__PROMOTION_FILE", str(recorded))
    monkeypatch.setenv("MOVIEREC_RETRAIN__STATUS_FILE", str(tmp_path / "no-run.json"))
    if decision is not None:
        recorded.parent.mkdir(parents=True)
        said = {"decision": decision, "version": "7", "time": 1.8e9, "reason": "automatic: ctr"}
        recorded.write_text(json.dumps(said))
    app = run_dashboard()
    shown = [e.value for e in [*app.sidebar.success, *app.sidebar.warning, *app.sidebar.caption]]
    decisions = [text for text in shown if text.startswith("Promotion decision")]
    if decision is None:
        assert decisions == []
    else:
        element = app.sidebar.success if decision == "promoted" else app.sidebar.warning
        assert element[0].value == (
            f"Promotion decision 2027-01-15 08:00:00 UTC: version 7 {decision}. automatic: ctr"
        )
