"""The store's migrations: the newest revision is exactly the tables' metadata, and a database
of version 1 with rows in it upgrades without losing one."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, text
from typer.testing import CliRunner

from movierec.cli import app
from movierec.store.database import Database, create_engine
from movierec.store.schema import HEAD, alembic_config, current_revision, head_revision, upgrade
from movierec.store.tables import (
    accounts,
    api_keys,
    feedback_events,
    metadata,
    refresh_tokens,
    request_logs,
)
from tests.databases import table_rows

# The schema `create_tables` of version 1 wrote (before migrations), as each backend got it.
VERSION_1 = {
    "sqlite": """CREATE TABLE request_logs (
        request_id VARCHAR(36) NOT NULL, timestamp DATETIME NOT NULL, user_id BIGINT,
        endpoint TEXT NOT NULL, model_version TEXT, recommendations TEXT NOT NULL,
        scores TEXT NOT NULL, latency_ms FLOAT NOT NULL, is_fallback BOOLEAN NOT NULL,
        fallback_reason TEXT)""",
    "postgresql": """CREATE TABLE request_logs (
        request_id UUID NOT NULL, timestamp TIMESTAMP WITHOUT TIME ZONE NOT NULL,
        user_id BIGINT, endpoint TEXT NOT NULL, model_version TEXT,
        recommendations TEXT NOT NULL, scores TEXT NOT NULL, latency_ms FLOAT NOT NULL,
        is_fallback BOOLEAN NOT NULL, fallback_reason TEXT)""",
}
COLUMNS = [
    "id",
    "ts",
    "user",
    "endpoint",
    "version",
    "recs",
    "scores",
    "latency",
    "fallback",
    "reason",
]
INDEX = "CREATE INDEX idx_request_logs_timestamp ON request_logs (timestamp)"
ROWS = [
    (
        f"0b7c6a4e-8d36-4c36-9a3f-1f1b8d7f2a1{n}",
        f"2024-05-0{n + 1} 12:00:00.00000{n}",
        n,
        "/recommend",
        "v1",
        "[1,2]",
        "[0.5,0.25]",
        1.5,
        n % 2 == 1,
        "unknown_user" if n % 2 else None,
    )
    for n in range(3)
]


# One row of each table revision 0003 holds besides the request log.
ACCOUNT = {
    "account_id": 1,
    "email": "person@example.org",
    "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    "user_id": 2000,
    "claimed": False,
    "created_at": 1.7e9,
}
TOKEN = {
    "token_hash": "a" * 64,
    "session_id": "b" * 32,
    "account_id": 1,
    "created_at": 1.7e9,
    "expires_at": 1.8e9,
    "revoked_at": None,
}
KEY = {
    "key_id": "c0ffee00c0ff",
    "name": "batch-job",
    "secret_hash": "d" * 64,
    "scopes": "recommend:any",
    "created_at": 1.7e9,
    "revoked_at": None,
}
EVENT = {
    "event_id": 1,
    "user_id": 2000,
    "movie_id": 50,
    "event": "rating",
    "value": 4.5,
    "request_id": None,
    "request_known": False,
    "model_version": "v3",
    "created_at": 1.7e9,
}


def test_the_newest_revision_is_the_tables_metadata(database: Database) -> None:
    """A table or column added to `tables.py` without a migration fails here."""
    upgrade(database)
    engine = create_engine(database)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []


def test_the_head_the_api_checks_at_start_is_the_newest_script() -> None:
    assert head_revision() == HEAD


def test_a_version_1_database_upgrades_and_keeps_every_row(database: Database) -> None:
    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(text(VERSION_1[conn.dialect.name]))
        conn.execute(text(INDEX))
        for row in ROWS:
            conn.execute(
                text(
                    "INSERT INTO request_logs VALUES (:id, :ts, :user, :endpoint, :version, "
                    ":recs, :scores, :latency, :fallback, :reason)"
                ),
                dict(zip(COLUMNS, row, strict=True)),
            )
    before = table_rows(database, request_logs)
    assert len(before) == len(ROWS)
    assert upgrade(database) is None  # unversioned: stamped as the baseline, then upgraded
    assert table_rows(database, request_logs) == before
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert set(metadata.tables) <= set(inspect(conn).get_table_names())
    engine.dispose()
    assert upgrade(database) == head_revision()  # a second upgrade finds nothing to do


def test_a_revision_3_database_upgrades_and_keeps_every_row(database: Database) -> None:
    """The store as revision 0003 left it, with accounts, tokens, keys and feedback in it,
    gains `login_failures` and loses nothing."""
    engine = create_engine(database)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
    with engine.begin() as conn:
        conn.execute(insert(accounts), ACCOUNT)
        conn.execute(insert(refresh_tokens), TOKEN)
        conn.execute(insert(api_keys), KEY)
        conn.execute(insert(feedback_events), EVENT)
    kept = (accounts, refresh_tokens, api_keys, feedback_events)
    before = {table.name: table_rows(database, table) for table in kept}
    assert all(len(rows) == 1 for rows in before.values())
    assert upgrade(database) == "0003"
    assert {table.name: table_rows(database, table) for table in kept} == before
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert inspect(conn).has_table("login_failures")
    engine.dispose()


def test_db_upgrade_migrates_the_configured_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from movierec.config import get_settings

    monkeypatch.setenv("MOVIEREC_SERVING__LOG_DB", str(tmp_path / "store.db"))
    monkeypatch.setenv("MOVIEREC_STORE__URL", "")
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(app, ["db", "upgrade"])
        again = CliRunner().invoke(app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert f"upgraded from no revision to revision {head_revision()}" in first.output
    assert f"already at revision {head_revision()}" in again.output
