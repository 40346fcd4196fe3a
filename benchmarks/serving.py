"""Load test of the API on production artifacts: `python -m benchmarks.serving`.

Starts the real server (uvicorn, 1 worker) on the bundle in `--model-dir`, drives /health
(the trivial endpoint of the same app) and /recommend in turns for `--rounds` rounds, then
/similar and /popular, with `wrk` (Lua scripts cycle through user and movie ids), and reports
per endpoint: requests per second, client-side p50/p95/p99, errors, and the server-side
p50/p95/p99 of `latency_ms` from the request log. The throughput ratio is the median of the
rounds' ratios: the machine's other load changes from one run to the next, and taking turns
exposes both endpoints to it. Each round also drives the reference route of
`benchmarks/reference_app.py` (FastAPI's part of /recommend without the recommendation work),
which the server runs beside the API's own routes. After shutdown it checks the log: one row
per request the server served. wrk stops mid-flight, so the server may serve (and log) up to
one request per open connection that wrk does not count; the check is therefore exact against
the server's own counter and reported against wrk's count.

Feedback: /feedback takes turns with /health in the same rounds (its ratio to /health; events
for a set of "fresh" users), then /recommend is driven for exactly those users, whose answers
go through the fold-in path (their training row plus their new events); its server-side
latency is reported apart. After shutdown the `feedback_events` rows must equal the 202s
(up to one in flight per connection when wrk stops, as for the log). Last, two replicas on one
store measure how long an event accepted by one takes to change the other's answer.
Writes benchmarks/results/serving.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from tests.servers import running_api

from benchmarks.machine import machine
from benchmarks.reference_app import REFERENCE_PATH
from movierec.artifacts import ITEM_MAPPING, MODEL_METADATA, USER_MAPPING, read_json
from movierec.endpoints import FEEDBACK, HEALTH, POPULAR, RANKED, RECOMMEND, SIMILAR, USERS

RESULTS = Path(__file__).resolve().parent / "results" / "serving.json"
TRIVIAL = HEALTH
FRESH = "/recommend (fresh feedback)"  # /recommend for the users given feedback
ENDPOINTS = (TRIVIAL, *RANKED, FEEDBACK, FRESH)
FRESH_USERS = 200
START_S = 180.0  # a loaded machine takes its time to start a server and its writer processes
DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"errors\\":%d,\\"non_2xx\\":%d," ..
    "\\"p50_us\\":%d,\\"p95_us\\":%d,\\"p99_us\\":%d,\\"mean_us\\":%f}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""


def feedback_bodies(user_ids: list[int], movie_ids: list[int]) -> list[str]:
    """Events for the fresh users: ratings, clicks, watches and dislikes of varied movies."""
    kinds = [("rating", 4.5), ("click", None), ("rating", 2.0), ("watch", None), ("dislike", None)]
    bodies = []
    for i in range(1000):
        kind, value = kinds[i % len(kinds)]
        body = {
            "user_id": user_ids[i % len(user_ids)],
            "movie_id": movie_ids[(i * 7) % len(movie_ids)],
        }
        bodies.append(json.dumps({**body, "event": kind, **({"value": value} if value else {})}))
    return bodies


def lua_script(endpoint: str, user_ids: list[int], movie_ids: list[int]) -> str:
    """A wrk script for `endpoint`: POST bodies or GET queries cycling through the ids."""
    if endpoint in (RECOMMEND, REFERENCE_PATH, FRESH):
        bodies = [json.dumps({"user_id": u, "k": 10}) for u in user_ids]
        method = "POST"
        endpoint = RECOMMEND if endpoint == FRESH else endpoint
    elif endpoint == FEEDBACK:
        bodies = feedback_bodies(user_ids, movie_ids)
        method = "POST"
    elif endpoint == SIMILAR:
        bodies = [json.dumps({"movie_id": m, "k": 10}) for m in movie_ids]
        method = "POST"
    else:
        bodies = []
        method = "GET"
    if method == "GET":
        paths = [f"{POPULAR}?k={1 + i % 20}" for i in range(20)] if endpoint == POPULAR else []
        table = ",".join(json.dumps(p) for p in paths or [endpoint])
        request = "wrk.format('GET', paths[i])"
    else:
        table = ",".join(json.dumps(b) for b in bodies)
        request = f"wrk.format('POST', '{endpoint}', headers, paths[i])"
    return f"""
local paths = {{{table}}}
local headers = {{["Content-Type"] = "application/json"}}
local i = 0
request = function()
  i = i % #paths + 1
  return {request}
end
{DONE}"""


def run_wrk(
    url: str, script: str, duration_s: int, connections: int, threads: int
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "-s", handle.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(handle.name).unlink()
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    stats = json.loads(line.removeprefix("WRKJSON "))
    return {
        "requests": stats["requests"],
        "rps": stats["requests"] / (stats["duration_us"] / 1e6),
        "errors": stats["errors"] + stats["non_2xx"],  # a 202 is a 2xx
        "socket_errors": stats["errors"],
        "non_2xx": stats["non_2xx"],
        "client_p50_ms": stats["p50_us"] / 1000,
        "client_p95_ms": stats["p95_us"] / 1000,
        "client_p99_ms": stats["p99_us"] / 1000,
    }


def server_latency(
    log_db: Path, endpoint: str, since: str, until: str = "9999-12-31 23:59:59"
) -> dict[str, float]:
    with sqlite3.connect(log_db) as conn:
        rows = conn.execute(
            "SELECT latency_ms FROM request_logs WHERE endpoint = ? AND timestamp >= ? "
            "AND timestamp < ?",
            (endpoint, since, until),
        ).fetchall()
    latencies = np.array([row[0] for row in rows])
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if len(latencies) else (0, 0, 0)
    return {
        "server_rows": len(latencies),
        "server_p50_ms": float(p50),
        "server_p95_ms": float(p95),
        "server_p99_ms": float(p99),
    }


def cross_replica_visibility(
    model_dir: Path, store: Path, movie_ids: list[int], samples: int = 20
) -> dict[str, float]:
    """Seconds from a 202 on one replica until the other replica's /recommend for that (new)
    user is personal: two single-worker servers on one SQLite store."""
    delays = []
    with (
        running_api(model_dir, store, timeout=START_S) as first,
        running_api(model_dir, store, timeout=START_S) as second,
    ):
        for sample in range(samples + 1):
            user_id = httpx.post(f"{first}{USERS}").json()["user_id"]
            body = {"user_id": user_id, "movie_id": movie_ids[sample], "event": "watch"}
            assert httpx.post(f"{first}{FEEDBACK}", json=body).status_code == 202
            accepted = time.monotonic()
            while (
                time.monotonic() - accepted < 10
                and httpx.post(f"{second}{RECOMMEND}", json={"user_id": user_id}).json()[
                    "is_fallback"
                ]
            ):
                time.sleep(0.01)
            if sample:  # the first is a warm-up
                delays.append(time.monotonic() - accepted)
    return {
        "samples": samples,
        "p50_s": float(np.median(delays)),
        "max_s": float(np.max(delays)),
        "within_1s": bool(np.max(delays) < 1.0),
    }


def load_tool() -> str:
    """The first line of `wrk -v`: the load generator's version."""
    return (
        subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    )


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """wrk's figures for one endpoint over several rounds: requests summed, the rest medians."""
    total_requests = sum(r["requests"] for r in rounds)
    total_seconds = sum(r["requests"] / r["rps"] for r in rounds if r["rps"] > 0)
    return {
        "requests": total_requests,
        "rps": total_requests / total_seconds if total_seconds else 0.0,
        "errors": sum(r["errors"] for r in rounds),
        **{
            name: float(np.median([r[name] for r in rounds]))
            for name in ("client_p50_ms", "client_p95_ms", "client_p99_ms")
        },
    }


def benchmark(
    model_dir: Path, duration_s: int, connections: int, threads: int, rounds: int
) -> dict:
    users = [int(u) for u in read_json(model_dir / USER_MAPPING)]
    movies = [int(m) for m in read_json(model_dir / ITEM_MAPPING)]
    metadata = read_json(model_dir / MODEL_METADATA)
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, float]]] = {e: [] for e in (*ENDPOINTS, REFERENCE_PATH)}
    since: dict[str, str] = {}
    fresh = users[:FRESH_USERS]

    def drive(url: str, endpoint: str) -> dict[str, float]:
        since.setdefault(endpoint, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"))
        # The fresh users get feedback; /recommend's own rounds never ask for them.
        ids = fresh if endpoint in (FEEDBACK, FRESH) else users[FRESH_USERS:]
        return run_wrk(url, lua_script(endpoint, ids, movies), duration_s, connections, threads)

    with tempfile.TemporaryDirectory() as tmp:
        log_db = Path(tmp) / "requests.db"
        with running_api(
            model_dir, log_db, app="benchmarks.reference_app:create_app", timeout=START_S
        ) as url:
            for endpoint in (TRIVIAL, *RANKED, REFERENCE_PATH):  # warm-up (no feedback yet)
                run_wrk(url, lua_script(endpoint, users, movies), 2, connections, threads)
            # The ratios' endpoints take turns with the trivial one, so a change in the
            # machine's other load reaches all; the other endpoints run once. /recommend runs
            # for all users before the fresh users' feedback, FRESH for them after it.
            for _ in range(rounds):
                for endpoint in (TRIVIAL, RECOMMEND, REFERENCE_PATH, FEEDBACK):
                    runs[endpoint].append(drive(url, endpoint))
            for endpoint in (SIMILAR, POPULAR, FRESH):
                runs[endpoint].append(drive(url, endpoint))
            counters = httpx.get(f"{url}/health").json()["log"]
        with sqlite3.connect(log_db) as conn:
            rows = int(conn.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0])
            events = int(conn.execute("SELECT COUNT(*) FROM feedback_events").fetchone()[0])
        endpoints = {endpoint: median_round(runs[endpoint]) for endpoint in ENDPOINTS}
        for endpoint in (*RANKED, FRESH):
            logged = RECOMMEND if endpoint == FRESH else endpoint
            endpoints[endpoint].update(server_latency(log_db, logged, since[endpoint]))
        endpoints[RECOMMEND].update(
            server_latency(log_db, RECOMMEND, since[RECOMMEND], until=since[FRESH])
        )
        visibility = cross_replica_visibility(model_dir, Path(tmp) / "shared.db", movies)

    def ratios(endpoint: str) -> list[float]:
        """Per round: `endpoint`'s throughput over the trivial endpoint's."""
        pairs = zip(runs[TRIVIAL], runs[endpoint], strict=True)
        return [run["rps"] / trivial["rps"] for trivial, run in pairs]

    served = counters["queued"] + counters["dropped"]
    recommend = endpoints[RECOMMEND]
    feedback = endpoints[FEEDBACK]
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
        "load": {
            "duration_s": duration_s,
            "ratio_rounds": rounds,
            "connections": connections,
            "threads": threads,
            # Other work on the machine shares its 2 cores with the server and wrk.
            "load_average_1_5_15_before": [round(value, 2) for value in load_before],
            "load_average_1_5_15_after": [round(value, 2) for value in os.getloadavg()],
        },
        "endpoints": endpoints,
        "log": {
            "rows_after_shutdown": rows,
            "served_by_server": served,
            "dropped": counters["dropped"],
            "rows_equal_served": rows == served,
            "measured_rows_minus_wrk_count": {
                endpoint: stats["server_rows"] - stats["requests"]
                for endpoint, stats in endpoints.items()
                if endpoint not in (TRIVIAL, FEEDBACK)
            },
        },
        "feedback": {
            "rows_after_shutdown": events,
            "accepted_202_counted_by_wrk": feedback["requests"] - feedback["errors"],
            # wrk stops mid-flight: each round the server may accept one event per connection
            # that wrk never counts, so rows may exceed its count by that much, never fall short.
            "rows_minus_wrk_202s": events - (feedback["requests"] - feedback["errors"]),
            "in_flight_allowance": connections * rounds,
            "fresh_users": FRESH_USERS,
            "cross_replica_visibility": visibility,
        },
        "targets": {
            "recommend_server_p50_below_2ms": recommend["server_p50_ms"] < 2,
            "recommend_server_p99_below_10ms": recommend["server_p99_ms"] < 10,
            # The median of the rounds' ratios; each round drives both endpoints in turn.
            "recommend_rps_ratio_to_trivial": float(np.median(ratios(RECOMMEND))),
            "recommend_rps_ratio_per_round": [round(r, 3) for r in ratios(RECOMMEND)],
            "zero_errors": all(stats["errors"] == 0 for stats in endpoints.values()),
            "feedback_rps_ratio_to_trivial": float(np.median(ratios(FEEDBACK))),
            "feedback_rps_ratio_per_round": [round(r, 3) for r in ratios(FEEDBACK)],
            "feedback_zero_lost": 0
            <= events - feedback["requests"] + feedback["errors"]
            <= connections * rounds,
            "fresh_recommend_server_p99_below_10ms": endpoints[FRESH]["server_p99_ms"] < 10,
        },
        # Where the gap to the trivial endpoint comes from: the reference route does FastAPI's
        # part of /recommend (body, validation, dependency, an answer of the same size) only.
        "reference": {
            "route": REFERENCE_PATH,
            **median_round(runs[REFERENCE_PATH]),
            "rps_ratio_to_trivial": float(np.median(ratios(REFERENCE_PATH))),
            "rps_ratio_per_round": [round(r, 3) for r in ratios(REFERENCE_PATH)],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("models/production"))
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint and round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="turns of /health and /recommend for the ratio"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not (args.model_dir / MODEL_METADATA).is_file():
        print(f"no production model in {args.model_dir}: run `make train` first", file=sys.stderr)
        return 1
    result = benchmark(
        args.model_dir.resolve(), args.duration, args.connections, args.threads, args.rounds
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
