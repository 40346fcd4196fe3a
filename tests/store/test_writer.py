"""The store's batching writer, on SQLite and PostgreSQL, with the request log as its table:
rows as specified, batching, no loss under concurrency, flush on shutdown, drops counted, and a
dead writer process costing rows, never the caller."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from movierec.api.logger import LogEntry, ServedRequest, log_row
from movierec.store import writer
from movierec.store.database import Database
from movierec.store.schema import upgrade
from movierec.store.tables import request_logs
from movierec.store.writer import BatchWriter
from tests.databases import row_count, table_rows

MOMENT = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def entry(user_id: int) -> LogEntry:
    served = ServedRequest("/recommend", user_id, "v1", [1, 2], "[0.5,0.25]", True, "unknown_user")
    return LogEntry.of(served, round(MOMENT.timestamp() * 1_000_000), 1.5)


def request_writer(
    database: Database, queue_size: int, batch_size: int, flush_interval_s: float
) -> BatchWriter:
    return BatchWriter(database, request_logs, log_row, queue_size, batch_size, flush_interval_s)


def wait_until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_row_holds_the_spec_columns(database: Database) -> None:
    log = request_writer(database, queue_size=10, batch_size=5, flush_interval_s=0.1)
    log.start()
    log.put(entry(7))
    log.stop()
    (row,) = table_rows(database, request_logs)
    assert tuple(row) == tuple(column.name for column in request_logs.columns)
    request_id = uuid.UUID(row["request_id"])
    assert str(request_id) == row["request_id"]  # the canonical lower-case text form
    assert (request_id.version, request_id.variant) == (4, uuid.RFC_4122)
    assert row["timestamp"] == MOMENT.replace(tzinfo=None)
    assert (row["user_id"], row["endpoint"], row["model_version"]) == (7, "/recommend", "v1")
    assert json.loads(row["recommendations"]) == [1, 2]
    assert row["scores"] == "[0.5,0.25]"  # exactly as answered
    assert (row["latency_ms"], row["is_fallback"], row["fallback_reason"]) == (
        1.5,
        True,
        "unknown_user",
    )


def test_sqlite_keeps_the_text_forms_monitoring_and_old_logs_use(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    log = request_writer(db, queue_size=10, batch_size=5, flush_interval_s=0.1)
    log.start()
    log.put(entry(7))
    log.stop()
    with sqlite3.connect(db) as conn:
        stamp, flag, journal = conn.execute(
            "SELECT timestamp, is_fallback, (SELECT journal_mode FROM pragma_journal_mode) "
            "FROM request_logs"
        ).fetchone()
    assert (stamp, flag, journal) == ("2024-05-01 12:00:00.123456", 1, "wal")


def test_a_reason_without_a_fallback_is_not_logged(database: Database) -> None:
    log = request_writer(database, queue_size=10, batch_size=5, flush_interval_s=0.1)
    log.start()
    log.put(entry(7)._replace(is_fallback=False))
    log.stop()
    (row,) = table_rows(database, request_logs)
    assert (row["is_fallback"], row["fallback_reason"]) == (False, None)


def test_full_batches_are_written_before_the_flush_interval(database: Database) -> None:
    log = request_writer(database, queue_size=100, batch_size=10, flush_interval_s=60.0)
    log.start()
    for user in range(25):
        log.put(entry(user))
    assert wait_until(lambda: log.stats().written == 20)
    time.sleep(0.2)
    assert row_count(database, request_logs) == 20  # the partial batch waits
    log.stop()
    assert row_count(database, request_logs) == 25
    assert log.stats().written == 25
    ids = [uuid.UUID(row["request_id"]) for row in table_rows(database, request_logs)]
    assert len(set(ids)) == 25 and {i.version for i in ids} == {4}


def test_a_partial_batch_is_written_after_the_flush_interval(database: Database) -> None:
    log = request_writer(database, queue_size=100, batch_size=100, flush_interval_s=0.2)
    log.start()
    for user in range(3):
        log.put(entry(user))
    assert wait_until(lambda: row_count(database, request_logs) == 3)
    log.stop()


def test_a_full_queue_drops_and_counts_without_blocking(database: Database) -> None:
    log = request_writer(database, queue_size=3, batch_size=10, flush_interval_s=0.1)
    started = time.perf_counter()
    accepted = [log.put(entry(user)) for user in range(5)]  # no writer running yet
    assert time.perf_counter() - started < 0.5
    assert accepted == [True, True, True, False, False]
    assert log.stats().dropped == 2 and log.stats().queued == 3
    log.start()
    log.stop()
    assert row_count(database, request_logs) == 3


def test_nothing_is_lost_under_concurrent_puts(database: Database) -> None:
    log = request_writer(database, queue_size=100_000, batch_size=64, flush_interval_s=0.05)
    log.start()
    n_threads, per_thread = 8, 500

    def put_many(thread: int) -> None:
        for i in range(per_thread):
            assert log.put(entry(thread * per_thread + i))

    threads = [threading.Thread(target=put_many, args=(t,)) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.stop()
    users = [row["user_id"] for row in table_rows(database, request_logs)]
    assert sorted(users) == list(range(n_threads * per_thread))
    assert log.stats().written == n_threads * per_thread and log.stats().dropped == 0


def test_two_writers_share_one_database(database: Database) -> None:
    """As two API processes do: each its own writer process, one table."""
    logs = [request_writer(database, 10_000, 50, 0.05) for _ in range(2)]
    for log in logs:
        log.start()
    for user in range(600):
        logs[user % 2].put(entry(user))
    for log in logs:
        log.stop()
    assert row_count(database, request_logs) == 600


def test_a_row_its_builder_refuses_costs_that_row_only(database: Database) -> None:
    log = request_writer(database, queue_size=10, batch_size=5, flush_interval_s=0.1)
    log.start()
    log.put(entry(1))
    log.put(entry(2)._replace(movie_ids=[float("nan")]))  # NaN is not JSON
    log.put(entry(3))
    log.stop()
    assert sorted(row["user_id"] for row in table_rows(database, request_logs)) == [1, 3]
    assert (log.stats().written, log.stats().failed) == (2, 1)


def test_the_writer_process_says_ready_answers_counts_and_ends_when_the_caller_is_gone(
    database: Database,
) -> None:
    upgrade(database)
    context = multiprocessing.get_context("spawn")
    caller_end, writer_end = context.Pipe()
    process = context.Process(
        target=writer.run, args=(writer_end, database, request_logs.name, log_row)
    )
    process.start()
    writer_end.close()
    assert caller_end.recv_bytes() == b"ready"
    caller_end.send_bytes(pickle.dumps([tuple(entry(user)) for user in range(3)]))
    assert caller_end.recv() == (3, 0)
    bad = [tuple(entry(9)._replace(endpoint=None))]  # NOT NULL: the database refuses it
    caller_end.send_bytes(pickle.dumps(bad))
    assert caller_end.recv() == (0, 1)  # counted as failed; the writer carries on
    caller_end.close()  # as when the caller dies: no goodbye, only end of file
    process.join(20)
    assert process.exitcode == 0
    assert row_count(database, request_logs) == 3


def test_a_dead_writer_process_costs_rows_not_callers(database: Database) -> None:
    log = request_writer(database, queue_size=100, batch_size=5, flush_interval_s=0.1)
    log.start()
    assert log._process is not None
    log._process.kill()
    log._process.join(5)
    accepted = [log.put(entry(user)) for user in range(7)]
    log.stop(timeout_s=5)
    assert all(accepted)
    assert log.stats().failed == 7 and log.stats().written == 0
