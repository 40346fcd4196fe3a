"""Serving at MovieLens-25M size: start-up, memory per worker, /recommend latency, exact and
approximate (HNSW), and the approximate path's recall@10 against exact scoring.

Run: `python -m benchmarks.serving_scale` (or `make benchmark-serving-scale`). No training:
the bundle is synthetic at ml-25m's shape (162,541 users, 59,047 movies, 64 factors, about
25M interactions with Zipf-like movie popularity and log-normal user activity). Its
embeddings have planted taste groups (users and movies near one of 50 group centres) and
movie norms that grow with popularity, as ALS factors do; a trained ALS model's factors may
be easier or harder for HNSW than these, so the recall quoted is for this structure. The
similar-movies table is a placeholder (not measured here). Writes
benchmarks/results/serving_scale.json with the machine and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import scipy.sparse as sp
from tests.servers import running_api

from benchmarks.machine import machine
from benchmarks.serving import lua_script, run_wrk, server_latency
from movierec.artifacts import ArtifactBundle, ItemRecord, ModelMetadata, SimilarItems
from movierec.endpoints import HEALTH, RECOMMEND
from movierec.models.index import build_index, index_to_bytes
from movierec.serving.engine import Approximate, Engine
from movierec.serving.loader import load_bundle

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks/results/serving_scale.json"
USERS, MOVIES, FACTORS, RATINGS, GROUPS = 162_541, 59_047, 64, 25_000_095, 50
K = 10


def synthetic_bundle(directory: Path, seed: int = 0) -> dict[str, float]:
    """Write the 25M-shaped bundle (HNSW item index) into `directory`; seconds per step."""
    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    activity = rng.lognormal(0.0, 1.0, USERS)
    counts = np.maximum(20, np.round(activity / activity.sum() * RATINGS)).astype(np.int64)
    popularity = 1.0 / np.arange(1, MOVIES + 1) ** 0.9
    movie_of_rank = rng.permutation(MOVIES)
    picks = movie_of_rank[rng.choice(MOVIES, counts.sum(), p=popularity / popularity.sum())]
    rows = np.repeat(np.arange(USERS), counts)
    user_items = sp.csr_matrix(
        (np.ones(len(picks), np.float32), (rows, picks)), shape=(USERS, MOVIES)
    )
    user_items.sum_duplicates()
    user_items.data[:] = 1.0
    timings["interactions_s"] = time.perf_counter() - started

    centres = rng.standard_normal((GROUPS, FACTORS)).astype(np.float32)
    audience = np.asarray(user_items.sum(axis=0)).ravel()
    norms = (0.05 * (1.0 + np.log1p(audience))).astype(np.float32)[:, None]
    items = centres[rng.integers(0, GROUPS, MOVIES)]
    items = (items + 0.7 * rng.standard_normal((MOVIES, FACTORS))).astype(np.float32) * norms
    users = centres[rng.integers(0, GROUPS, USERS)]
    users = (users + 0.7 * rng.standard_normal((USERS, FACTORS))).astype(np.float32)
    started = time.perf_counter()
    index = build_index(items, "hnsw", hnsw_m=32, hnsw_ef_construction=80)
    timings["hnsw_build_s"] = time.perf_counter() - started

    movie_ids = np.arange(1, MOVIES + 1)
    neighbours = ((np.arange(MOVIES)[:, None] + np.arange(1, K + 1)) % MOVIES).astype(np.int32)
    bundle = ArtifactBundle(
        metadata=ModelMetadata(
            version="synthetic-25m",
            model_name="movie-recommender",
            model_kind="als",
            scorer="embeddings",
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            dataset="ml-25m-shaped",
            split_strategy="none",
            hyperparameters={"factors": FACTORS},
            n_users=USERS,
            n_items=MOVIES,
            embedding_dim=FACTORS,
        ),
        user_embeddings=users,
        item_embeddings=items,
        user_ids=np.arange(1, USERS + 1),
        item_ids=movie_ids,
        items=[ItemRecord(int(m), f"Movie {m}", 1990 + int(m) % 30, ["Drama"]) for m in movie_ids],
        user_items=user_items,
        popularity=audience.astype(np.float64),
        similar_items=SimilarItems(
            neighbours,
            np.ones((MOVIES, K), np.float32),
            np.ones((MOVIES, K), np.int32),
            np.maximum(audience, 1).astype(np.int32),
        ),
    )
    started = time.perf_counter()
    bundle.write(directory, index_to_bytes(index))
    timings["write_s"] = time.perf_counter() - started
    return {name: round(value, 1) for name, value in timings.items()}


def in_process(directory: Path, n_users: int, settings: Approximate) -> dict[str, Any]:
    """Recall@10 of the approximate engine against the exact one, and each one's latency."""
    started = time.perf_counter()
    model = load_bundle(directory)
    exact = Engine(model, max_k=100)
    load_s = time.perf_counter() - started
    approximate = Engine(model, max_k=100, approximate=settings)
    user_ids = np.random.default_rng(1).choice(list(model.user_rows), n_users, replace=False)
    latency: dict[str, list[float]] = {"exact": [], "approximate": []}
    overlap = []
    for user_id in user_ids.tolist():
        started = time.perf_counter()
        truth = exact.recommend(user_id, K).columns
        latency["exact"].append(time.perf_counter() - started)
        started = time.perf_counter()
        found = approximate.recommend(user_id, K).columns
        latency["approximate"].append(time.perf_counter() - started)
        overlap.append(len(set(truth.tolist()) & set(found.tolist())) / K)
    return {
        "users": n_users,
        "load_and_engine_s": round(load_s, 2),
        "settings": settings._asdict(),
        "recall_at_10": round(float(np.mean(overlap)), 4),
        **{
            f"{path}_ms": {
                "p50": round(float(np.percentile(times, 50)) * 1e3, 3),
                "p99": round(float(np.percentile(times, 99)) * 1e3, 3),
            }
            for path, times in latency.items()
        },
    }


def resident_memory(pid: int) -> dict[str, float]:
    """RSS and PSS (resident pages shared between workers counted once) in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return {"rss_mb": round(fields["Rss"], 1), "pss_mb": round(fields["Pss"], 1)}


def served(directory: Path, workers: int, approximate: bool, seconds: int) -> dict[str, Any]:
    """Start-up, memory per worker and /recommend latency of a real server."""
    env = {"MOVIEREC_SERVING__APPROXIMATE__ENABLED": str(approximate).lower()}
    users = [int(u) for u in np.random.default_rng(2).choice(USERS, 20_000) + 1]
    with tempfile.TemporaryDirectory() as tmp:
        log_db = Path(tmp) / "requests.db"
        started = time.perf_counter()
        with running_api(directory, log_db, env=env, workers=workers, timeout=600) as url:
            with httpx.Client(timeout=5) as client:
                while client.get(f"{url}{HEALTH}").status_code != 200:
                    time.sleep(0.1)
            startup = time.perf_counter() - started
            memory = [resident_memory(pid) for pid in _process_tree(url)]
            since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            load = run_wrk(url, lua_script(RECOMMEND, users, []), seconds, 8, 1)
        return {
            "workers": workers,
            "approximate": approximate,
            "startup_s": round(startup, 1),
            "memory_per_process": memory,
            "wrk": {key: round(value, 2) for key, value in load.items()},
            **server_latency(log_db, RECOMMEND, since),
        }


def _process_tree(url: str) -> list[int]:
    """The server's process and its descendants (workers, the log writer)."""
    from tests.servers import api_pid

    pids, queue = [], [api_pid(url)]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            queue += [int(child) for child in (task / "children").read_text().split()]
    return pids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per server")
    parser.add_argument("--recall-users", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="movierec-25m-") as tmp:
        directory = Path(tmp)
        result: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "shape": {"users": USERS, "movies": MOVIES, "factors": FACTORS},
            "bundle": synthetic_bundle(directory),
        }
        result["interactions"] = int(load_bundle(directory).user_items.nnz)
        result["in_process"] = [
            in_process(directory, args.recall_users, Approximate(candidates, ef))
            for candidates, ef in ((50, 64), (50, 128), (100, 256))
        ]
        result["servers"] = [
            served(directory, 1, False, args.seconds),
            served(directory, 1, True, args.seconds),
            served(directory, 2, False, args.seconds),
        ]
    result["load_average_before_after"] = [round(load_before[0], 1), round(os.getloadavg()[0], 1)]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
