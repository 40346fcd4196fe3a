"""Opening the store: the schema migrated once even when processes race, readers that never create
a database, logs written before the store existed, and one-line errors for bad addresses."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect

from movierec.api.logger import RequestLogger
from movierec.monitoring.log_reader import open_log, time_span
from movierec.store.database import (
    Database,
    StoreError,
    create_engine,
    describe,
    sqlite_file,
)
from movierec.store.schema import upgrade
from movierec.store.tables import metadata, request_logs
from tests.databases import row_count, table_rows
from tests.servers import free_port
from tests.store.test_writer import entry

# The request log's schema before the store, as `make up` created it in data/logs/requests.db.
OLD_SCHEMA = """
CREATE TABLE request_logs (
    request_id TEXT NOT NULL, timestamp DATETIME NOT NULL, user_id INTEGER,
    endpoint TEXT NOT NULL, model_version TEXT, recommendations TEXT NOT NULL,
    scores TEXT NOT NULL, latency_ms REAL NOT NULL, is_fallback INTEGER NOT NULL DEFAULT 0,
    fallback_reason TEXT
);
CREATE INDEX idx_request_logs_timestamp ON request_logs (timestamp);
INSERT INTO request_logs VALUES ('0b7c6a4e-8d36-4c36-9a3f-1f1b8d7f2a10',
    '2024-05-01 12:00:00.000001', 3, '/recommend', 'v1', '[1,2]', '[0.5,0.25]', 1.0, 0, NULL);
"""


def test_the_schema_is_migrated_once_when_writers_race(database: Database) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def create() -> None:
        barrier.wait()
        try:
            upgrade(database)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_engine(database)
    with engine.connect() as conn:
        inspector = inspect(conn)
        assert set(inspector.get_table_names()) == {*metadata.tables, "alembic_version"}
        assert [index["name"] for index in inspector.get_indexes("request_logs")] == [
            "idx_request_logs_timestamp"
        ]
    engine.dispose()


def test_a_reader_never_creates_the_database(tmp_path: Path) -> None:
    missing = tmp_path / "logs" / "requests.db"
    with open_log(missing) as conn:
        assert conn is None
    assert time_span(missing) is None
    assert not missing.parent.exists()


def test_a_log_written_before_the_store_is_read_and_appended(tmp_path: Path) -> None:
    db = tmp_path / "requests.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(OLD_SCHEMA)
    log = RequestLogger(db, queue_size=10, batch_size=5, flush_interval_s=0.1)
    log.start()
    log.log(entry(7))
    log.stop()
    rows = table_rows(db, request_logs)
    assert [(row["user_id"], row["is_fallback"]) for row in rows] == [(3, False), (7, True)]
    span = time_span(db)
    assert span is not None and span[0].microsecond == 1


def test_an_empty_url_is_the_sqlite_default_and_a_url_can_name_sqlite(tmp_path: Path) -> None:
    assert sqlite_file(tmp_path / "a.db") == tmp_path / "a.db"
    assert sqlite_file(f"sqlite:///{tmp_path / 'b.db'}") == tmp_path / "b.db"
    assert sqlite_file("sqlite://") is None  # in memory
    assert sqlite_file("postgresql+psycopg://user@host/db") is None
    url = f"sqlite:///{tmp_path / 'nested' / 'c.db'}"
    upgrade(url)
    assert row_count(url, request_logs) == 0


def test_passwords_are_never_shown() -> None:
    shown = describe("postgresql+psycopg://user:s3cret@db.example:5432/movierec")
    assert shown == "postgresql+psycopg://user:***@db.example:5432/movierec"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL: use e.g. sqlite:///"),
        ("nosuchdb://host/db", "cannot open nosuchdb://host/db"),
        ("mysql://user:pw@host/db", "the driver for mysql://user:***@host/db is not installed"),
    ],
)
def test_a_bad_address_is_named_in_one_line(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=re.escape(message)) as raised:
        create_engine(url)
    assert "\n" not in str(raised.value)


def test_an_unreachable_server_fails_the_writer_at_start() -> None:
    nobody_listens = f"postgresql+psycopg://movierec:pw@127.0.0.1:{free_port()}/db"
    log = RequestLogger(nobody_listens, queue_size=10, batch_size=5, flush_interval_s=0.1)
    with pytest.raises(StoreError, match=r"cannot use the store at postgresql\+psycopg://") as err:
        log.start()
    assert "pw" not in str(err.value) and "\n" not in str(err.value)
