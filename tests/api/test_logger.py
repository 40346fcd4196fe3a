"""The API's request log: one row per served request and none per error, nothing lost under
concurrent requests, flush on shutdown, a full queue visible in /health; on SQLite and on a
store URL. The writer itself (batching, drops, a dead writer process) is tested in
tests/store/test_writer.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from movierec.api.main import create_app
from movierec.config import ServingSettings
from movierec.store.database import Database
from movierec.store.tables import request_logs
from tests.api.conftest import ClientFactory, log_rows
from tests.databases import row_count


@contextmanager
def client_logging_to(
    database: Database, settings: ServingSettings, **overrides: Any
) -> Iterator[TestClient]:
    """A TestClient whose request log is `database`: a SQLite file (`log_db`) or a store URL."""
    if isinstance(database, Path):
        overrides["log_db"], store_url = database, ""
    else:
        store_url = database
    with TestClient(create_app(settings.model_copy(update=overrides), store_url)) as client:
        yield client


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
    database: Database, serving_settings: ServingSettings
) -> None:
    n_requests = 400
    with client_logging_to(
        database, serving_settings, log_batch_size=16, log_flush_interval_s=0.05
    ) as client:

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
    assert row_count(database, request_logs) == n_requests


def test_shutdown_flushes_the_queue(database: Database, serving_settings: ServingSettings) -> None:
    with client_logging_to(
        database, serving_settings, log_batch_size=10_000, log_flush_interval_s=3600
    ) as client:
        for user in range(1, 31):
            client.post("/recommend", json={"user_id": user})
        assert row_count(database, request_logs) == 0  # neither a full batch nor the interval
    assert row_count(database, request_logs) == 30


def test_full_queue_is_visible_in_health(make_client: ClientFactory, tmp_path: Path) -> None:
    db = tmp_path / "logs/requests.db"
    with make_client(log_db=db, log_queue_size=1, log_flush_interval_s=3600) as client:
        client.app.state.serving.logger.stop()  # writer gone: the queue can only fill
        for _ in range(4):
            assert client.get("/popular").status_code == 200
        assert client.get("/health").json()["log"]["dropped"] == 3
