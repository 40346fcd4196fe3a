"""Retraining on ml-100k plus 10,000 feedback events, and two workers switching under load.

Run: `python -m benchmarks.retrain` (or `make benchmark-retrain`). In a temporary directory
with the default configs: the offline pipeline exports version 1 (not timed here; see
benchmarks/pipeline.py); 10,000 feedback events (ratings, clicks, watches, dislikes from
known and new users, ids minted as the API mints them) go into the store; `retrain` runs
and is timed (target: under 60 s on 2 cores). Then `movierec serve --workers 2` serves
version 1 while wrk drives /recommend at saturation; mid-run the retrained version is
promoted by hand (alias moved and exported, whatever the gate said of it). The switch-over
time runs from the end of the export (the production symlink's swap, its mtime) to the
sending of the first of IN_A_ROW /health probes in a row (new connections) that all report
the new version; serve.log must show both worker pids switching, and the switch must happen
while wrk still runs. wrk's socket errors and non-2xx answers must be zero, and the request
log must hold at least as many /recommend rows as wrk counted (wrk stops mid-flight, so the
server may log a few it did not count). The machine's load average is recorded before the
retrain, after it and at the promotion.
Writes benchmarks/results/retrain.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.machine import machine
from benchmarks.serving import lua_script, run_wrk

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = REPO_ROOT.parent / "shared/data/movielens"
RESULTS = REPO_ROOT / "benchmarks/results/retrain.json"
TARGET_SECONDS = 60.0
EVENTS = 10_000
IN_A_ROW = 20


def feedback_events(n: int, seed: int = 42) -> list[dict[str, Any]]:
    """`n` events: 80% from ml-100k users, 20% from 200 new users; kinds 40/35/15/10%."""
    from movierec.store.feedback import EventIds

    rng = np.random.default_rng(seed)
    ids, now = EventIds(source=1), time.time()
    known = rng.integers(1, 944, n)
    new = 1_000_000 + rng.integers(1, 201, n)
    users = np.where(rng.random(n) < 0.8, known, new)
    kinds = rng.choice(["rating", "click", "watch", "dislike"], n, p=[0.4, 0.35, 0.15, 0.1])
    return [
        {
            "event_id": ids.mint(),
            "user_id": int(user),
            "movie_id": int(movie),
            "event": str(kind),
            "value": float(rng.integers(1, 11) / 2) if kind == "rating" else None,
            "request_known": False,
            "created_at": now + i * 1e-3,
        }
        for i, (user, movie, kind) in enumerate(
            zip(users, rng.integers(1, 1683, n), kinds, strict=True)
        )
    ]


def write_events(database: Path, events: list[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    from movierec.store.database import create_engine
    from movierec.store.schema import upgrade
    from movierec.store.tables import feedback_events as table

    upgrade(database)
    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(insert(table), events)
    engine.dispose()


def health(url: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{url}/health", timeout=30).json()
    return answer


def every_worker_on(url: str, version: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """Probe /health (a new connection each) until IN_A_ROW answers in a row report `version`.

    Returns `since`, the wall-clock time at which the first probe of that final streak was
    sent (from then on every answer was the new version), the probes sent and how many of
    them answered another version.
    """
    started, streak, probes, other = time.monotonic(), 0, 0, 0
    since = 0.0
    while streak < IN_A_ROW:
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"workers not on version {version} after {timeout_s} s")
        sent = time.time()
        try:
            answer = health(url)["model_version"]
        except httpx.TransportError:  # the server is still starting
            streak = 0
            time.sleep(0.2)
            continue
        probes += 1
        if answer == version:
            since = sent if streak == 0 else since
            streak += 1
        else:
            streak, other = 0, other + 1
    return {"since": since, "probes": probes, "other_version_answers": other}


def switched_workers(serve_log: Path, version: str) -> list[int]:
    """The worker pids that logged serving `version` (`ProductionWatcher.check`)."""
    pattern = re.compile(rf"worker (\d+) now serves model {re.escape(version)} ")
    return sorted({int(m.group(1)) for m in pattern.finditer(serve_log.read_text())})


def switch_over(settings: Any, workdir: Path, duration_s: int, version: str) -> dict[str, Any]:
    """Serve version 1 with two workers under wrk, promote `version` mid-run (by hand, as
    `movierec promote --version` does, whatever its gate said)."""
    from movierec.pipeline.promotion import promote

    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MOVIEREC_CONFIG_DIR": str(REPO_ROOT / "configs"),
        "MOVIEREC_SERVING__MODEL_DIR": str(settings.training.export_dir),
        "MOVIEREC_SERVING__CHALLENGER_DIR": str(settings.retrain.challenger_export_dir),
        "MOVIEREC_SERVING__CHALLENGER_SHARE": "0",
        "MOVIEREC_SERVING__LOG_DB": str(settings.serving.log_db),
    }
    command = [sys.executable, "-m", "movierec.cli", "serve", "--workers", "2"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with (workdir / "serve.log").open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        every_worker_on(url, "1")
        result: dict[str, Any] = {}
        script = lua_script("/recommend", list(range(1, 944)), [])
        load = threading.Thread(
            target=lambda: result.update(run_wrk(url, script, duration_s, 32, 2))
        )
        load.start()
        time.sleep(duration_s / 3)
        load_average = [round(v, 2) for v in os.getloadavg()]
        started = time.perf_counter()
        move = promote(settings, "benchmark: switch-over under load", version)
        promoted = time.perf_counter()
        # the export ends when the production symlink is swapped (`os.replace` keeps the
        # link's own mtime, set when it was made just before)
        exported_at = os.lstat(settings.training.export_dir).st_mtime
        if move.version != version:
            raise RuntimeError(f"promotion moved to {move.version}, not {version}")
        probes = every_worker_on(url, version)
        under_load = load.is_alive()
        load.join()
    finally:
        server.terminate()
        server.wait(60)
    switched = switched_workers(workdir / "serve.log", version)
    with sqlite3.connect(settings.serving.log_db) as conn:
        rows = dict(
            conn.execute(
                "SELECT model_version, COUNT(*) FROM request_logs WHERE endpoint = '/recommend' "
                "GROUP BY model_version"
            ).fetchall()
        )
    logged = sum(rows.values())
    return {
        "workers": 2,
        "wrk": {"duration_s": duration_s, "connections": 32, "threads": 2, **result},
        "load_average_1_5_15_at_promotion": load_average,
        "promote_seconds": round(promoted - started, 3),
        "export_to_both_workers_seconds": round(probes["since"] - exported_at, 3),
        "health_probes": probes["probes"],
        "health_answers_old_version_after_export": probes["other_version_answers"],
        "workers_logged_switch": len(switched),
        "switched_while_wrk_ran": under_load,
        "reload_poll_s": settings.serving.reload_poll_s,
        "log_rows_by_version": rows,
        "log_rows_minus_wrk_requests": logged - int(result["requests"]),
        "zero_failed_requests": result["socket_errors"] == 0 and result["non_2xx"] == 0,
        "zero_lost_log_rows": logged >= result["requests"] > 0,
    }


def run(mirror: str, workdir: Path, duration_s: int) -> dict[str, Any]:
    from movierec.config import load_settings
    from movierec.pipeline.retrain import retrain
    from movierec.training.pipeline import run_pipeline

    settings = load_settings(
        data={
            "base_url": mirror,
            "raw_dir": workdir / "data/raw",
            "processed_dir": workdir / "data/processed",
            "features_dir": workdir / "data/features",
        },
        training={
            "export_dir": workdir / "models/production",
            "mlflow": {
                "tracking_uri": f"sqlite:///{workdir / 'mlflow.db'}",
                "artifact_location": workdir / "mlartifacts",
            },
        },
        serving={"log_db": workdir / "data/logs/requests.db"},
        retrain={
            "feedback_dir": workdir / "data/feedback",
            "lock_file": workdir / "data/retrain.lock",
            "status_file": workdir / "data/retrain/status.json",
            "challenger_export_dir": workdir / "models/challenger",
        },
    )
    pipeline = run_pipeline(settings)
    write_events(settings.serving.log_db, feedback_events(EVENTS))
    before = [round(v, 2) for v in os.getloadavg()]
    status = retrain(settings)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "dataset": settings.data.dataset,
        "feedback_events": EVENTS,
        "first_pipeline_seconds": round(pipeline.total_seconds, 2),
        "retrain": {
            "seconds": status.seconds,
            "stage_seconds": status.stage_seconds,
            "target_seconds": TARGET_SECONDS,
            "within_target": status.seconds < TARGET_SECONDS,
            "result": status.result,
            "winner": status.winner,
            "version": status.model_version,
            "gate": status.gate_reason,
            "load_average_1_5_15_before": before,
            "load_average_1_5_15_after": [round(v, 2) for v in os.getloadavg()],
        },
        "switch_over": switch_over(settings, workdir, duration_s, str(status.model_version)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--duration", type=int, default=20, help="Seconds of wrk load.")
    args = parser.parse_args(argv)
    mirror = os.environ.get("MOVIELENS_BASE_URL") or str(DEFAULT_MIRROR)
    with tempfile.TemporaryDirectory(prefix="movierec-bench-") as workdir:
        result = run(mirror, Path(workdir), args.duration)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    retrained, switched = result["retrain"], result["switch_over"]
    print(f"retrain {retrained['seconds']:.1f} s ({retrained['result']}): {retrained['gate']}")
    print(
        f"switch-over: both workers on the new version "
        f"{switched['export_to_both_workers_seconds']:.2f} s after export, "
        f"{switched['wrk']['errors']} failed of {switched['wrk']['requests']} requests"
    )
    ok = (
        retrained["within_target"]
        and switched["zero_failed_requests"]
        and switched["zero_lost_log_rows"]
        and switched["workers_logged_switch"] == 2
        and switched["switched_while_wrk_ran"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
