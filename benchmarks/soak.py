"""Soak test of the API at saturation: `python -m benchmarks.soak` (`make benchmark-soak`).

The reliability suite's scenarios (tests/reliability/), run hard and long. The real server
(`movierec serve`, one worker, the limits of configs/serving.yaml) serves the bundle in
`--model-dir` while `wrk` saturates it for `--duration` seconds with a mix of /recommend (known
and unknown users), /similar, /popular and /movies. Meanwhile a reloader switches the
`production` link and reloads every few seconds, in turn to a good bundle and to each kind of
bad one; an attacker keeps idle, slowloris and oversized-header connections open; and a probe
times /health on fresh connections twice a second. Then a graceful stop, and the log must hold
a row for every ranking the server counted; then a restart, a second saturation and kill -9
in the middle of it: the database must pass SQLite's integrity check and the server restart.
Before all that, /movies (a page of 10, and the whole catalogue) and /popular (k=10) are
driven alone, for their throughput. Writes
benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from tests.reliability.bundles import BAD_BUNDLES, copy_release, switch
from tests.reliability.conftest import AUTH, TOKEN
from tests.servers import free_port, running_process

from benchmarks.machine import machine
from benchmarks.serving import load_tool, run_wrk
from movierec import artifacts as art
from movierec.endpoints import MOVIES, POPULAR, RANKED, RECOMMEND, SIMILAR

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
RELOAD_EVERY_S = 3.0
PROBE_EVERY_S = 0.5


def mix_script(users: list[int], movies: list[int]) -> str:
    """A wrk script cycling through the read routes: known and unknown users, similar
    movies, popular (by k) and catalogue pages."""
    requests = []
    for i, user in enumerate(users[:200]):
        requests.append(("POST", RECOMMEND, json.dumps({"user_id": user, "k": 10})))
        if i % 4 == 0:
            requests.append(("POST", RECOMMEND, json.dumps({"user_id": 10**9 + i, "k": 10})))
        if i % 2 == 0:
            requests.append(("POST", SIMILAR, json.dumps({"movie_id": movies[i], "k": 10})))
        if i % 5 == 0:
            requests.append(("GET", f"{POPULAR}?k={1 + i % 20}", ""))
            requests.append(("GET", f"{MOVIES}?offset={i}&limit=50", ""))
    return path_script(requests)


def path_script(requests: list[tuple[str, str, str]]) -> str:
    rows = ",".join(
        "{" + ",".join(json.dumps(part) for part in request) + "}" for request in requests
    )
    return f"""
local requests = {{{rows}}}
local headers = {{["Content-Type"] = "application/json"}}
local i = 0
request = function()
  i = i % #requests + 1
  local r = requests[i]
  if r[1] == "GET" then return wrk.format("GET", r[2]) end
  return wrk.format("POST", r[2], headers, r[3])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {{\\"requests\\":%d,\\"duration_us\\":%d,\\"errors\\":%d,\\"non_2xx\\":%d," ..
    "\\"p50_us\\":%d,\\"p95_us\\":%d,\\"p99_us\\":%d,\\"mean_us\\":%f}}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""


@contextlib.contextmanager
def serve(model_dir: Path, log_db: Path, output: Any) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    command = [
        *(sys.executable, "-m", "movierec.cli", "serve"),
        *("--model-dir", str(model_dir), "--log-db", str(log_db)),
        *("--host", "127.0.0.1", "--port", str(port)),
    ]
    url = f"http://127.0.0.1:{port}"
    with running_process(
        command, {"MOVIEREC_ADMIN_TOKEN": TOKEN}, f"{url}/health", output, 180
    ) as process:
        yield url, process


class Background:
    """A loop run every `every_s` in a thread until stopped; it records what it saw."""

    def __init__(self, step: Any, every_s: float) -> None:
        self.step, self.every_s = step, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.every_s):
            self.step()

    def __enter__(self) -> Background:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)


class Reloader:
    """Switch `production` to the next release and reload: good, bad, good, bad..."""

    def __init__(self, url: str, releases: Path, good: list[str]) -> None:
        self.url, self.releases = url, releases
        bad = list(BAD_BUNDLES)
        self.plan = [name for pair in zip(good * len(bad), bad, strict=False) for name in pair]
        self.turn = 0
        self.results: dict[str, int] = {"loaded": 0, "refused": 0, "unexpected": 0}

    def step(self) -> None:
        name = self.plan[self.turn % len(self.plan)]
        self.turn += 1
        switch(self.releases, name)
        answer = httpx.post(f"{self.url}/admin/reload", headers=AUTH, timeout=60)
        expected = 409 if name in BAD_BUNDLES else 200
        if answer.status_code != expected:
            self.results["unexpected"] += 1
        else:
            self.results["loaded" if expected == 200 else "refused"] += 1


class Prober:
    """/health on a fresh connection; every status and time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seconds: list[float] = []
        self.failures = 0

    def step(self) -> None:
        started = time.monotonic()
        try:
            ok = httpx.get(f"{self.url}/health", timeout=5).status_code == 200
        except httpx.TransportError:
            ok = False
        self.seconds.append(time.monotonic() - started)
        self.failures += not ok


class Attacker:
    """Keeps idle, slowloris and oversized-header connections coming; counts what the
    server closed and what stayed open longer than the header deadline allows."""

    def __init__(self, url: str, idle: int = 200, slow: int = 20, big: int = 4) -> None:
        self.address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
        self.sizes = idle, slow, big
        self.opened = self.closed = self.refused_431 = 0
        self.sockets: list[tuple[str, socket.socket, float]] = []

    def step(self) -> None:
        now = time.monotonic()
        idle, slow, big = self.sizes
        kinds = ["idle"] * idle + ["slow"] * slow + ["big"] * big
        while len(self.sockets) < len(kinds):
            kind = kinds[len(self.sockets)]
            try:
                sock = socket.create_connection(self.address, timeout=2)
            except OSError:
                break
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                if kind == "slow":
                    sock.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                elif kind == "big":
                    sock.send(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 65536)
            self.sockets.append((kind, sock, now))
            self.opened += 1
        kept = []
        for kind, sock, since in self.sockets:
            try:
                if kind == "slow":
                    sock.send(b"a")
                data = sock.recv(4096)
                if data.startswith(b"HTTP/1.1 431"):
                    self.refused_431 += 1
                if data == b"" or data.startswith(b"HTTP/1.1 431"):
                    raise ConnectionResetError
                kept.append((kind, sock, since))
            except BlockingIOError:
                kept.append((kind, sock, since))
            except OSError:
                sock.close()
                self.closed += 1
        self.sockets = kept

    def oldest_open_s(self) -> float:
        now = time.monotonic()
        return max((now - since for _, _, since in self.sockets), default=0.0)

    def close(self) -> None:
        for _, sock, _ in self.sockets:
            sock.close()


def log_rows(log_db: Path) -> int:
    with sqlite3.connect(log_db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0])


def ranked_answers(url: str) -> float:
    """Rankings the server answered with a 200, by its own /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "movierec_requests_total"
        and sample.labels.get("endpoint") in RANKED
        and sample.labels.get("status") == "200"
    )


def prepare_releases(model_dir: Path, root: Path) -> list[str]:
    """Good releases "good-a" and "good-b" (another version) and every bad kind, sealed."""
    releases = root / "releases"
    releases.mkdir()
    copy_release(model_dir.resolve(), releases / "good-a")
    copy_release(model_dir.resolve(), releases / "good-b")
    metadata = art.read_json(releases / "good-b" / art.MODEL_METADATA)
    art.write_json(releases / "good-b" / art.MODEL_METADATA, {**metadata, "version": "soak-b"})
    for name in ("good-a", "good-b"):
        art.seal(releases / name)
    for name, (damage, _) in BAD_BUNDLES.items():
        copy_release(releases / "good-a", releases / name)
        damage(releases / name)
    switch(releases, "good-a")
    return ["good-a", "good-b"]


def benchmark(model_dir: Path, duration_s: int, connections: int, threads: int) -> dict:
    users = [int(u) for u in art.read_json(model_dir / art.USER_MAPPING)]
    movies = [int(m) for m in art.read_json(model_dir / art.ITEM_MAPPING)]
    metadata = art.read_json(model_dir / art.MODEL_METADATA)
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as output:
        root = Path(tmp)
        good = prepare_releases(model_dir, root)
        production = root / "releases" / "production"
        log_db = root / "requests.db"
        with serve(production, log_db, output) as (url, process):
            side_by_side = {
                name: run_wrk(url, path_script([("GET", path, "")]), 5, connections, threads)
                for name, path in (
                    ("movies_page_of_10", f"{MOVIES}?limit=10"),
                    ("popular_k_10", f"{POPULAR}?k=10"),
                    ("movies_whole_catalogue", MOVIES),
                )
            }
            reloader = Reloader(url, root / "releases", good)
            prober, attacker = Prober(url), Attacker(url)
            with (
                Background(reloader.step, RELOAD_EVERY_S),
                Background(prober.step, PROBE_EVERY_S),
                Background(attacker.step, 0.25),
            ):
                soak = run_wrk(url, mix_script(users, movies), duration_s, connections, threads)
                oldest_open = attacker.oldest_open_s()
            attacker.close()
            answered = ranked_answers(url)  # over the server's life, as the log is
            health = httpx.get(f"{url}/health", timeout=10).json()
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        rows_after_stop = log_rows(log_db)
        with serve(production, log_db, output) as (url, process):
            threading.Timer(5.0, lambda: process.send_signal(signal.SIGKILL)).start()
            killed_run = run_wrk(url, mix_script(users, movies), 8, connections, threads)
            process.wait(30)
            time.sleep(1.0)
        with sqlite3.connect(log_db) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        restart_started = time.monotonic()
        with serve(production, log_db, output) as (url, _):
            restart_s = time.monotonic() - restart_started
            restarted = httpx.get(f"{url}/health", timeout=10).json()["status"]
    seconds = np.array(prober.seconds or [0.0])
    return {
        "machine": {
            **machine(),
            "load_tool": load_tool(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "model": {
            "version": metadata["version"],
            "scorer": metadata["scorer"],
            "n_users": metadata["n_users"],
            "n_items": metadata["n_items"],
        },
        "load": {"duration_s": duration_s, "connections": connections, "threads": threads},
        "movies_vs_popular": {
            **side_by_side,
            "movies_page_over_popular_rps": side_by_side["movies_page_of_10"]["rps"]
            / max(side_by_side["popular_k_10"]["rps"], 1e-9),
        },
        "saturation": soak,
        "reloads": {**reloader.results, "every_s": RELOAD_EVERY_S, "kinds": list(BAD_BUNDLES)},
        "health_probes": {
            "count": len(prober.seconds),
            "failures": prober.failures,
            "p50_ms": float(np.percentile(seconds, 50) * 1000),
            "max_ms": float(seconds.max() * 1000),
        },
        "hostile_connections": {
            "opened": attacker.opened,
            "closed_by_server": attacker.closed,
            "answered_431": attacker.refused_431,
            "oldest_still_open_s": oldest_open,
        },
        "graceful_stop": {
            "rankings_answered": answered,
            "rows_written": rows_after_stop,
            "rows_lost": answered - rows_after_stop,
            "log_dropped": health["log"]["dropped"],
        },
        "kill_9": {
            "requests_before_kill": killed_run["requests"],
            "integrity_check": integrity,
            "restart_s": round(restart_s, 2),
            "restarted_status": restarted,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("models/production"))
    parser.add_argument("--duration", type=int, default=60, help="seconds of saturation")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not (args.model_dir / art.MODEL_METADATA).is_file():
        sys.exit(f"no bundle in {args.model_dir}: run `make train` first")
    result = benchmark(args.model_dir, args.duration, args.connections, args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
