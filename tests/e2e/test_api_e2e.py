"""The API as a real uvicorn process: every endpoint over HTTP, SIGHUP reload, the log after
shutdown, and two workers sharing one request log."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from movierec.artifacts import ITEM_EMBEDDINGS
from tests.bundles import build_synthetic_bundle
from tests.servers import api_pid, post_to_starting_workers, running_api

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token"


def log_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0])


def wait_for_version(url: str, version: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = httpx.get(f"{url}/health").json()
        if health["model_version"] == version:
            return health
        time.sleep(0.1)
    raise AssertionError(f"model {version} never served; last health: {health}")


def test_every_endpoint_over_http_and_the_log_after_shutdown(tmp_path: Path) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production", version="e2e-1")
    log_db = tmp_path / "logs/requests.db"
    served = 0
    with running_api(model_dir, log_db, env={"MOVIEREC_ADMIN_TOKEN": TOKEN}) as url:
        health = httpx.get(f"{url}/health").json()
        assert health["status"] == "ok" and health["model_version"] == "e2e-1"
        body = httpx.post(f"{url}/recommend", json={"user_id": 2, "k": 5}).json()
        assert len(body["recommendations"]) == 5 and body["is_fallback"] is False
        served += 1
        fallback = httpx.post(f"{url}/recommend", json={"user_id": 12345}).json()
        assert fallback["fallback_reason"] == "unknown_user"
        served += 1
        similar = httpx.post(f"{url}/similar", json={"movie_id": 4, "k": 3}).json()
        assert len(similar["similar_items"]) == 3
        served += 1
        popular = httpx.get(f"{url}/popular", params={"k": 3, "genre": "Drama"}).json()
        assert all("Drama" in r["genres"] for r in popular["recommendations"])
        served += 1
        assert httpx.post(f"{url}/similar", json={"movie_id": 9999}).status_code == 404
        assert httpx.post(f"{url}/recommend", json={"user_id": 1, "k": 0}).status_code == 422
        assert httpx.get(f"{url}/docs").status_code == 200
        reload = httpx.post(f"{url}/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert reload.status_code == 200 and reload.json()["model_version"] == "e2e-1"
        for user_id in range(1, 51):
            assert httpx.post(f"{url}/recommend", json={"user_id": user_id}).status_code == 200
        served += 50
    assert log_count(log_db) == served


def test_sighup_reloads_and_keeps_the_old_model_when_the_new_one_is_bad(tmp_path: Path) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production", version="first")
    with running_api(model_dir, tmp_path / "requests.db") as url:
        staging = build_synthetic_bundle(tmp_path / "staging", "item_weights", version="second")
        shutil.rmtree(model_dir)
        staging.rename(model_dir)
        os.kill(api_pid(url), signal.SIGHUP)
        health = wait_for_version(url, "second")
        assert health["scorer"] == "item_weights"

        embeddings = np.load(model_dir / ITEM_EMBEDDINGS)
        (model_dir / ITEM_EMBEDDINGS).unlink()
        np.save(model_dir / ITEM_EMBEDDINGS, embeddings[:, :3])  # wrong shape
        os.kill(api_pid(url), signal.SIGHUP)
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/health").json()["last_reload"]["result"] != "refused":
            assert time.monotonic() < deadline, "the refused reload never showed in /health"
            time.sleep(0.1)
        health = httpx.get(f"{url}/health").json()
        assert health["model_version"] == "second"
        assert ITEM_EMBEDDINGS in health["last_reload"]["error"]
        response = httpx.post(f"{url}/recommend", json={"user_id": 1})
        assert response.status_code == 200 and response.json()["model_version"] == "second"


def test_without_artifacts_the_process_starts_not_ready(tmp_path: Path) -> None:
    with running_api(tmp_path / "nothing", tmp_path / "requests.db") as url:
        health = httpx.get(f"{url}/health")
        assert health.status_code == 503 and "make train" in health.json()["reason"]
        assert httpx.get(f"{url}/popular").status_code == 503


def test_two_workers_share_one_log(tmp_path: Path) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production")
    log_db = tmp_path / "requests.db"
    with running_api(model_dir, log_db, workers=2) as url:
        for user_id in range(1, 201):  # a new connection each time, so both workers answer
            response = post_to_starting_workers(f"{url}/recommend", {"user_id": user_id, "k": 3})
            assert response.status_code == 200
    assert log_count(log_db) == 200
