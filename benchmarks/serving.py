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
the server's own counter and reported against wrk's count. Writes benchmarks/results/serving.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from tests.servers import running_api

from benchmarks.machine import machine
from benchmarks.reference_app import REFERENCE_PATH
from movierec.artifacts import ITEM_MAPPING, MODEL_METADATA, USER_MAPPING, read_json
from movierec.endpoints import HEALTH, POPULAR, RANKED, RECOMMEND, SIMILAR

RESULTS = Path(__file__).resolve().parent / "results" / "serving.json"
TRIVIAL = HEALTH
ENDPOINTS = (TRIVIAL, *RANKED)
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


def lua_script(endpoint: str, user_ids: list[int], movie_ids: list[int]) -> str:
    """A wrk script for `endpoint`: POST bodies or GET queries cycling through the ids."""
    if endpoint in (RECOMMEND, REFERENCE_PATH):
        bodies = [json.dumps({"user_id": u, "k": 10}) for u in user_ids]
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
        "errors": stats["errors"] + stats["non_2xx"],
        "client_p50_ms": stats["p50_us"] / 1000,
        "client_p95_ms": stats["p95_us"] / 1000,
        "client_p99_ms": stats["p99_us"] / 1000,
    }


def server_latency(log_db: Path, endpoint: str, since: str) -> dict[str, float]:
    with sqlite3.connect(log_db) as conn:
        rows = conn.execute(
            "SELECT latency_ms FROM request_logs WHERE endpoint = ? AND timestamp >= ?",
            (endpoint, since),
        ).fetchall()
    latencies = np.array([row[0] for row in rows])
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if len(latencies) else (0, 0, 0)
    return {
        "server_rows": len(latencies),
        "server_p50_ms": float(p50),
        "server_p95_ms": float(p95),
        "server_p99_ms": float(p99),
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

    def drive(url: str, endpoint: str) -> dict[str, float]:
        since.setdefault(endpoint, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"))
        return run_wrk(url, lua_script(endpoint, users, movies), duration_s, connections, threads)

    with tempfile.TemporaryDirectory() as tmp:
        log_db = Path(tmp) / "requests.db"
        with running_api(model_dir, log_db, app="benchmarks.reference_app:create_app") as url:
            for endpoint in runs:  # warm-up
                run_wrk(url, lua_script(endpoint, users, movies), 2, connections, threads)
            # The ratio's two endpoints take turns, so a change in the machine's other load
            # reaches both; the other endpoints run once.
            for _ in range(rounds):
                for endpoint in (TRIVIAL, RECOMMEND, REFERENCE_PATH):
                    runs[endpoint].append(drive(url, endpoint))
            for endpoint in (SIMILAR, POPULAR):
                runs[endpoint].append(drive(url, endpoint))
            counters = httpx.get(f"{url}/health").json()["log"]
        with sqlite3.connect(log_db) as conn:
            rows = int(conn.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0])
        endpoints = {endpoint: median_round(runs[endpoint]) for endpoint in ENDPOINTS}
        for endpoint in ENDPOINTS:
            if endpoint != TRIVIAL:
                endpoints[endpoint].update(server_latency(log_db, endpoint, since[endpoint]))

    def ratios(endpoint: str) -> list[float]:
        """Per round: `endpoint`'s throughput over the trivial endpoint's."""
        pairs = zip(runs[TRIVIAL], runs[endpoint], strict=True)
        return [run["rps"] / trivial["rps"] for trivial, run in pairs]

    served = counters["queued"] + counters["dropped"]
    recommend = endpoints[RECOMMEND]
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
                if endpoint != TRIVIAL
            },
        },
        "targets": {
            "recommend_server_p50_below_2ms": recommend["server_p50_ms"] < 2,
            "recommend_server_p99_below_10ms": recommend["server_p99_ms"] < 10,
            # The median of the rounds' ratios; each round drives both endpoints in turn.
            "recommend_rps_ratio_to_trivial": float(np.median(ratios(RECOMMEND))),
            "recommend_rps_ratio_per_round": [round(r, 3) for r in ratios(RECOMMEND)],
            "zero_errors": all(stats["errors"] == 0 for stats in endpoints.values()),
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
