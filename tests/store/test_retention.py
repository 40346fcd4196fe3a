"""Request-log retention by age and by size, on SQLite and PostgreSQL: the oldest rows go, the
KPIs of the kept window do not change, the API's log writer applies it, and so does
`movierec monitor prune`."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from movierec.api.logger import RequestLogger
from movierec.cli import app
from movierec.config import RetentionSettings, Thresholds, get_settings
from movierec.monitoring.kpis import compute_kpis
from movierec.store import retention
from movierec.store.database import Database, create_engine
from movierec.store.tables import request_logs
from tests.databases import row_count, table_rows
from tests.monitoring.log_rows import Row, write_log

NOW = datetime(2026, 3, 10, 12, 0, 0)


def hourly_rows(days: int) -> list[Row]:
    """One request an hour for `days` days before NOW, users and movies varying."""
    return [
        Row(
            timestamp=NOW - timedelta(hours=hour),
            user_id=hour % 7,
            recommendations=[hour % 11, 20 + hour % 5],
            latency_ms=1.0 + hour % 13,
            fallback_reason="unknown_user" if hour % 9 == 0 else None,
        )
        for hour in range(days * 24)
    ]


def kpis(database: Database, since: datetime) -> dict:
    report = compute_kpis(database, since, NOW + timedelta(hours=1), 40, Thresholds(), "1h")
    return report.model_dump()


def test_age_limit_keeps_the_window_and_its_kpis(database: Database) -> None:
    write_log(database, hourly_rows(10))
    window = NOW - timedelta(days=4)
    before = kpis(database, window)
    engine = create_engine(database)
    try:
        deleted = retention.prune_request_log(engine, 5, None, NOW)
    finally:
        engine.dispose()
    assert deleted == 10 * 24 - (5 * 24 + 1)  # rows at exactly 5 days old are kept
    oldest = min(row["timestamp"] for row in table_rows(database, request_logs))
    assert oldest == NOW - timedelta(days=5)
    assert kpis(database, window) == before


def test_size_limit_keeps_the_newest_rows_in_chunks(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "CHUNK_ROWS", 7)  # many small transactions
    rows = hourly_rows(3)
    write_log(database, rows)
    engine = create_engine(database)
    try:
        assert retention.prune_request_log(engine, None, 30, NOW) == len(rows) - 30
        assert retention.prune_request_log(engine, None, 30, NOW) == 0
    finally:
        engine.dispose()
    kept = sorted(row["timestamp"] for row in table_rows(database, request_logs))
    assert kept == sorted(row.timestamp for row in rows)[-30:]


def test_the_api_log_writer_applies_the_retention(tmp_path: Path) -> None:
    database = tmp_path / "requests.db"
    old = datetime.now() - timedelta(days=40)
    write_log(database, [Row(timestamp=old - timedelta(minutes=m)) for m in range(50)])
    write_log(database, [Row(timestamp=datetime.now() - timedelta(days=1))])
    kept = RetentionSettings(max_age_days=30, max_rows=None, interval_s=0.2)
    logger = RequestLogger(database, 100, 10, 0.05, retention=kept)
    logger.start()
    try:
        deadline = time.monotonic() + 30
        while row_count(database, request_logs) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        logger.stop()
    assert row_count(database, request_logs) == 1


def test_monitor_prune_applies_the_configured_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "requests.db"
    write_log(database, [Row(timestamp=datetime.now() - timedelta(hours=h)) for h in range(10)])
    monkeypatch.setenv("MOVIEREC_MONITORING__RETENTION__MAX_ROWS", "4")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["monitor", "prune", "--log-db", str(database)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "deleted 6 request-log rows" in result.output
    assert row_count(database, request_logs) == 4
