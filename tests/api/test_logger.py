"""The request logger: batching, no loss under concurrency, flush on shutdown, drops counted."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from movierec.api import log_writer
from movierec.api.logger import LogEntry, RequestLogger, ServedRequest
from movierec.request_log import COLUMNS
from tests.api.conftest import ClientFactory, log_rows


def entry(user_id: int) -> LogEntry:
    served = ServedRequest("/recommend", user_id, "v1", [1, 2], "[0.5,0.25]", True, "unknown_user")
    moment = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    return LogEntry.of(served, round(moment.timestamp() * 1_000_000), 1.5)


def count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0])


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_row_holds_the_spec_columns(tmp_path: Path) -> None:
    logger = RequestLogger(tmp_path / "log.db", queue_size=10, batch_size=5, flush_interval_s=0.1)
    logger.start()
    logger.log(entry(7))
    logger.stop()
    (row,) = log_rows(tmp_path / "log.db")
    assert tuple(row.keys()) == COLUMNS
    request_id = uuid.UUID(row["request_id"])
    assert str(request_id) == row["request_id"]  # the canonical lower-case text form
    assert (request_id.version, request_id.variant) == (4, uuid.RFC_4122)
    assert row["timestamp"] == "2024-05-01 12:00:00.123456"
    assert (row["user_id"], row["endpoint"], row["model_version"]) == (7, "/recommend", "v1")
    assert json.loads(row["recommendations"]) == [1, 2]
    assert json.loads(row["scores"]) == [0.5, 0.25]
    assert (row["latency_ms"], row["is_fallback"], row["fallback_reason"]) == (
        1.5,
        1,
        "unknown_user",
    )


def test_a_reason_without_a_fallback_is_not_logged(tmp_path: Path) -> None:
    logger = RequestLogger(tmp_path / "log.db", queue_size=10, batch_size=5, flush_interval_s=0.1)
    logger.start()
    logger.log(entry(7)._replace(is_fallback=False))
    logger.stop()
    (row,) = log_rows(tmp_path / "log.db")
    assert (row["is_fallback"], row["fallback_reason"]) == (0, None)


def test_full_batches_are_written_before_the_flush_interval(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    logger = RequestLogger(db, queue_size=100, batch_size=10, flush_interval_s=60.0)
    logger.start()
    for user in range(25):
        logger.log(entry(user))
    assert wait_until(lambda: logger.stats().written == 20)
    time.sleep(0.2)
    assert count(db) == 20  # the partial batch waits for the interval or shutdown
    logger.stop()
    assert count(db) == 25
    assert logger.stats().written == 25
    with sqlite3.connect(db) as conn:
        ids = [uuid.UUID(r[0]) for r in conn.execute("SELECT request_id FROM request_logs")]
    assert len(set(ids)) == 25 and {i.version for i in ids} == {4}


def test_a_partial_batch_is_written_after_the_flush_interval(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    logger = RequestLogger(db, queue_size=100, batch_size=100, flush_interval_s=0.2)
    logger.start()
    for user in range(3):
        logger.log(entry(user))
    assert wait_until(lambda: count(db) == 3, timeout=3.0)
    logger.stop()


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    logger = RequestLogger(db, queue_size=3, batch_size=10, flush_interval_s=0.1)
    started = time.perf_counter()
    accepted = [logger.log(entry(user)) for user in range(5)]  # no writer running yet
    assert time.perf_counter() - started < 0.5
    assert accepted == [True, True, True, False, False]
    assert logger.stats().dropped == 2 and logger.stats().queued == 3
    logger.start()
    logger.stop()
    assert count(db) == 3


def test_served_requests_are_logged_once_and_errors_not_at_all(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    db = tmp_path / "logs/requests.db"
    with make_client(log_db=db) as client:
        recommended = client.post("/recommend", json={"user_id": 999_999, "k": 3}).json()
        similar = client.post("/similar", json={"movie_id": 3, "k": 2}).json()
        client.get("/popular", params={"k": 4})
        client.get("/health")
        client.post("/recommend", json={"user_id": 1, "k": 0})  # 422
        client.post("/similar", json={"movie_id": 5000})  # 404
        client.get("/popular", params={"genre": "Noir"})  # 422
    rows = {row["endpoint"]: row for row in log_rows(db)}
    assert len(log_rows(db)) == 3
    rec = rows["/recommend"]
    assert rec["user_id"] == 999_999 and rec["is_fallback"] == 1
    assert rec["fallback_reason"] == "unknown_user"
    assert json.loads(rec["recommendations"]) == [
        r["movie_id"] for r in recommended["recommendations"]
    ]
    assert rec["model_version"] == recommended["model_version"]
    assert json.loads(rec["scores"]) == [r["score"] for r in recommended["recommendations"]]
    assert rows["/similar"]["user_id"] is None and rows["/similar"]["is_fallback"] == 0
    assert json.loads(rows["/similar"]["recommendations"]) == [
        s["movie_id"] for s in similar["similar_items"]
    ]
    assert len(json.loads(rows["/popular"]["scores"])) == 4
    assert all(0 < row["latency_ms"] < 5000 for row in rows.values())


def test_nothing_is_lost_under_concurrent_requests(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    db = tmp_path / "logs/requests.db"
    n_requests = 400
    with make_client(log_db=db, log_batch_size=16, log_flush_interval_s=0.05) as client:

        def call(i: int) -> int:
            if i % 3 == 0:
                return client.post("/recommend", json={"user_id": 1 + i % 150, "k": 5}).status_code
            if i % 3 == 1:
                return client.post("/similar", json={"movie_id": 1 + i % 90}).status_code
            return client.get("/popular", params={"k": 1 + i % 20}).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(call, range(n_requests)))
        assert statuses == [200] * n_requests
        stats = client.get("/health").json()["log"]
        assert stats["queued"] == n_requests and stats["dropped"] == 0
    assert count(db) == n_requests


def test_shutdown_flushes_the_queue(make_client: ClientFactory, tmp_path: Path) -> None:
    db = tmp_path / "logs/requests.db"
    with make_client(log_db=db, log_batch_size=10_000, log_flush_interval_s=3600) as client:
        for user in range(1, 31):
            client.post("/recommend", json={"user_id": user})
        assert count(db) == 0  # nothing due yet: neither a full batch nor the interval
    assert count(db) == 30


def test_full_queue_is_visible_in_health(make_client: ClientFactory, tmp_path: Path) -> None:
    db = tmp_path / "logs/requests.db"
    with make_client(log_db=db, log_queue_size=1, log_flush_interval_s=3600) as client:
        client.app.state.serving.logger.stop()  # writer gone: the queue can only fill
        for _ in range(4):
            assert client.get("/popular").status_code == 200
        assert client.get("/health").json()["log"]["dropped"] == 3


def test_the_writer_process_answers_counts_and_ends_when_the_api_is_gone(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    api_end, writer_end = context.Pipe()
    db = tmp_path / "log.db"
    process = context.Process(target=log_writer.run, args=(writer_end, str(db)))
    process.start()
    writer_end.close()
    good = [tuple(entry(user)) for user in range(3)]
    api_end.send_bytes(pickle.dumps(good))
    assert api_end.recv() == (3, 0)
    bad = [tuple(entry(9)._replace(movie_ids=[float("nan")]))]  # NaN is not JSON
    api_end.send_bytes(pickle.dumps(bad))
    assert api_end.recv() == (0, 1)  # counted as failed; the writer carries on
    api_end.close()  # as when the API process dies: no goodbye, only end of file
    process.join(10)
    assert process.exitcode == 0
    assert count(db) == 3


def test_a_dead_writer_process_costs_rows_not_requests(tmp_path: Path) -> None:
    logger = RequestLogger(tmp_path / "log.db", queue_size=100, batch_size=5, flush_interval_s=0.1)
    logger.start()
    assert logger._process is not None
    logger._process.kill()
    logger._process.join(5)
    accepted = [logger.log(entry(user)) for user in range(7)]
    logger.stop(timeout_s=5)
    assert all(accepted)
    assert logger.stats().failed == 7 and logger.stats().written == 0
