"""`movierec serve --model-dir X --log-db Y`: one worker and two serve X and log to Y.

A decoy bundle and log named by the environment stand where the flags do not: a server that
read its settings anywhere but from its own command line would serve or log there."""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.bundles import build_synthetic_bundle
from tests.servers import free_port, running_process

pytestmark = pytest.mark.e2e


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0])


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_flags_choose_the_bundle_and_the_log(tmp_path: Path, workers: int) -> None:
    flagged = build_synthetic_bundle(tmp_path / "flagged", version="from-flag")
    decoy = build_synthetic_bundle(tmp_path / "decoy", version="decoy", seed=1)
    log_db, decoy_log = tmp_path / "flag-log/requests.db", tmp_path / "decoy-log/requests.db"
    port = free_port()
    env = {"MOVIEREC_SERVING__MODEL_DIR": str(decoy), "MOVIEREC_SERVING__LOG_DB": str(decoy_log)}
    command = [
        *(sys.executable, "-m", "movierec.cli", "serve"),
        *("--model-dir", str(flagged), "--log-db", str(log_db)),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
    ]
    url = f"http://127.0.0.1:{port}"
    requests = 4 * workers
    with (
        tempfile.TemporaryFile() as output,
        running_process(command, env, f"{url}/health", output, timeout=90),
    ):
        for _ in range(requests):
            # A new connection each time (no client pool), so that both workers take some.
            answer = httpx.post(f"{url}/recommend", json={"user_id": 2, "k": 3}, timeout=10)
            assert answer.json()["model_version"] == "from-flag"
        assert httpx.get(f"{url}/health", timeout=10).json()["model_version"] == "from-flag"
    assert _rows(log_db) == requests
    assert _rows(decoy_log) == 0
