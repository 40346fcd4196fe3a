"""Retraining by hand to two API workers, over real processes on synthetic data: feedback
in the store, `movierec retrain` registers and exports a challenger that answers a sticky
share of users (each answer and log row names its version), and `movierec promote` makes it
production, both workers switch and the split ends, under steady traffic with no failed
request. The automatic loop over `movierec up` on ml-100k (the retrainer promoting on its
own, rollback, a corrupt release, reloads, a failed run) is tests/e2e/test_retrain_system.py.

One worker or the other answers each request (a new connection each time), so "every
worker" is checked as "every one of many answers in a row".
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from movierec.config import Settings
from movierec.serving.routing import serves_challenger
from movierec.training.export import RELEASES_DIR
from movierec.training.pipeline import run_pipeline
from tests.conftest import settings_in
from tests.e2e.test_pipeline_synthetic import SMALL_TRAINING, small_training_environment
from tests.pipeline.feedback_table import write_events
from tests.servers import Traffic, free_port, running_process

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
TOKEN = "reload-token"
POLL_S = 0.5
SHARE = 0.5
USERS = range(1, 41)
IN_A_ROW = 24


def every_worker(url: str, holds: Callable[[dict], bool], timeout_s: float = 20.0) -> float:
    """Seconds until IN_A_ROW /health answers in a row (new connections) satisfy `holds`."""
    started = time.monotonic()
    streak = 0
    while streak < IN_A_ROW:
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"workers did not agree in {timeout_s} s: last {health(url)}")
        streak = streak + 1 if holds(health(url)) else 0
    return time.monotonic() - started


def every_user_on_their_model(url: str, challenger: str, champion: str) -> float:
    """Seconds until, twice in a row, each of USERS gets its model: the challenger for its
    sticky share, the champion for the others."""
    started = time.monotonic()
    rounds = 0
    while rounds < 2:
        if time.monotonic() - started > 30:
            pytest.fail("users did not reach their models in 30 s")
        got = {
            user: httpx.post(f"{url}/recommend", json={"user_id": user, "k": 3}, timeout=10).json()[
                "model_version"
            ]
            for user in USERS
        }
        wanted = {u: challenger if serves_challenger(u, SHARE) else champion for u in USERS}
        rounds = rounds + 1 if got == wanted else 0
    return time.monotonic() - started


def split_in_log(log_db: Path) -> dict[str, set[str]]:
    """The versions the request log shows for /recommend of challenger and champion users."""
    with sqlite3.connect(log_db) as conn:
        rows = conn.execute(
            "SELECT user_id, model_version FROM request_logs WHERE endpoint = '/recommend'"
        ).fetchall()
    split: dict[str, set[str]] = {"challenger": set(), "champion": set()}
    for user, version in rows:
        if user in USERS:
            split["challenger" if serves_challenger(user, SHARE) else "champion"].add(version)
    return split


def health(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=10).json()


def movierec(root: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "movierec.cli", *args],
        cwd=root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, synthetic_mirror: tuple[Path, dict[str, str]]
) -> tuple[Settings, dict[str, str]]:
    """Production version 1 under a fresh root, and the environment that makes `movierec`
    run in that root use the same settings."""
    root = tmp_path_factory.mktemp("system")
    mirror, checksums = synthetic_mirror
    settings = settings_in(root, mirror, checksums, training=SMALL_TRAINING)
    run_pipeline(settings)
    env = {
        **small_training_environment(root, mirror, checksums),
        "MOVIEREC_ADMIN_TOKEN": TOKEN,
        "MOVIEREC_SERVING__RELOAD_POLL_S": str(POLL_S),
        "MOVIEREC_SERVING__CHALLENGER_SHARE": str(SHARE),
        "MOVIEREC_RETRAIN__MIN_IMPRESSIONS": "10",
    }
    return settings, env


@pytest.fixture(scope="module")
def api(trained: tuple[Settings, dict[str, str]]) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    settings, env = trained
    port = free_port()
    serve_env = {
        **env,
        "MOVIEREC_SERVING__MODEL_DIR": str(settings.training.export_dir),
        "MOVIEREC_SERVING__LOG_DB": str(settings.serving.log_db),
        "MOVIEREC_SERVING__CHALLENGER_DIR": str(settings.retrain.challenger_export_dir),
    }
    command = [
        *(sys.executable, "-m", "movierec.cli", "serve"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
    ]
    url = f"http://127.0.0.1:{port}"
    with (
        tempfile.NamedTemporaryFile() as output,
        running_process(command, serve_env, f"{url}/health", output, timeout=120) as process,
    ):
        every_worker(url, lambda h: h["model_version"] == "1", timeout_s=90)
        yield url, process, Path(output.name)


def test_retrain_and_promote_by_hand_reach_both_workers(
    trained: tuple[Settings, dict[str, str]], api: tuple[str, subprocess.Popen, Path]
) -> None:
    settings, env = trained
    url, _, _ = api
    root = settings.training.export_dir.parents[1]
    events = [(1_000_001, 1 + 4 * i, "rating", 5.0, 2e9 + i) for i in range(8)]
    write_events(settings.serving.log_db, events)
    with Traffic(url, users=[5]) as traffic:
        said = movierec(root, env, "retrain")
        assert "version 2" in said and "is challenger" in said, said
        assert health(url)["model_version"] == "1"  # a challenger is not production
        split_s = every_user_on_their_model(url, challenger="2", champion="1")

        movierec(root, env, "promote", "--reason", "e2e: learned the new taste")
        promoted_s = every_worker(url, lambda h: h["model_version"] == "2")
        every_user_on_their_model(url, challenger="2", champion="2")  # challenger withdrawn
    assert traffic.errors == [] and set(traffic.statuses) == {200}, traffic.errors[:3]
    assert {"1", "2"} <= traffic.versions
    print(f"challenger split in place {split_s:.2f} s after `movierec retrain`")
    print(f"both workers on the promoted version {promoted_s:.2f} s after `movierec promote`")
    logged = split_in_log(settings.serving.log_db)
    assert logged["challenger"] and logged["champion"], logged
    assert logged["champion"] <= {"1", "2"} and logged["challenger"] <= {"1", "2"}
    assert "2" in logged["challenger"] and "1" in logged["champion"]
    assert (settings.training.export_dir.parent / RELEASES_DIR).is_dir()
