"""Stops under load, in one server's life (each start costs seconds): kill -9 leaves an intact
SQLite database, the server restarts cleanly on it, and a graceful stop (SIGTERM) of the
restarted server loses no request-log row."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bundles import build_synthetic_bundle
from tests.processes import children
from tests.reliability.conftest import Load, log_rows, serving

pytestmark = pytest.mark.e2e


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition(), f"not seen in {timeout} s: {what}"


def test_kill_9_leaves_an_intact_database_then_a_graceful_stop_loses_no_row(
    tmp_path: Path,
) -> None:
    bundle = build_synthetic_bundle(tmp_path / "bundle")
    log_db = tmp_path / "requests.db"
    with serving(bundle, log_db) as server:
        process: subprocess.Popen = server.process  # type: ignore[assignment]
        writers = children(process.pid)
        with Load(server.url) as killed:
            # Killed while the log writer is at work: answers served and some rows written
            # (a fast machine answers 300 requests within one flush interval).
            wait_for(
                lambda: killed.total >= 300 and log_rows(log_db) > 0,
                "300 answers and a row in the request log",
            )
            process.send_signal(signal.SIGKILL)
            assert process.wait(30) == -signal.SIGKILL
    deadline = time.monotonic() + 30  # the orphaned log writer ends when its pipe closes
    while any(Path(f"/proc/{pid}").exists() for pid in writers) and time.monotonic() < deadline:
        time.sleep(0.1)
    with sqlite3.connect(log_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = log_rows(log_db)
    assert 0 < kept <= killed.logged_ok + killed.threads

    with serving(bundle, log_db) as restarted:
        process = restarted.process  # type: ignore[assignment]
        with Load(restarted.url) as stopped:
            wait_for(lambda: stopped.total >= 300, "300 answers")
            assert not stopped.errors and set(stopped.statuses) == {200}
            process.send_signal(signal.SIGTERM)  # with the load still running
            # uvicorn stops gracefully, then ends by the signal it caught.
            assert process.wait(30) in (0, -signal.SIGTERM)
    # Every answered ranking is in the log; at most one per client thread was served while
    # its answer was lost to the closing connection.
    written = log_rows(log_db) - kept
    assert stopped.logged_ok <= written <= stopped.logged_ok + stopped.threads
