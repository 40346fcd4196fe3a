"""Time ALS on the Spark engine beside the local engine, on one dataset.

Run: `uv run --extra spark python -m benchmarks.spark_engine --dataset ml-1m --mirror DIR`
(or `make benchmark-spark`), DIR holding `<dataset>.zip`: the MovieLens mirror, or the
synthetic copies of `benchmarks.generate`. The dataset is downloaded from DIR and processed
once into a temporary directory with the default configs; then each engine fits the same
`AlsParams` (the defaults) on train+val and is scored on test (NDCG@10). For Spark the
session start and the first read of the processed parts are timed apart from the fit.
Results go to benchmarks/results/spark_engine-<dataset>.json.
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

from benchmarks.machine import machine

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = REPO_ROOT.parent / "shared/data/movielens"
RESULTS = REPO_ROOT / "benchmarks/results"


def run(dataset: str, mirror: str, master: str, workdir: Path) -> dict[str, Any]:
    """Process `dataset` from `mirror` in `workdir`, then fit and score ALS on each engine."""
    from movierec.config import load_settings
    from movierec.data.preprocess import run_preprocess
    from movierec.models import create_model
    from movierec.models.compute import FitOptions
    from movierec.models.registry import model_class
    from movierec.training.data import load_training_data
    from movierec.training.engines.local import LocalEngine
    from movierec.training.engines.spark import SparkEngine, spark_session
    from movierec.training.evaluate import evaluate_model

    settings = load_settings(
        data={
            "dataset": dataset,
            "base_url": mirror,
            "raw_dir": workdir / "data/raw",
            "processed_dir": workdir / "data/processed",
            "features_dir": workdir / "data/features",
        },
        training={"spark": {"master": master, "conf": {"spark.ui.enabled": "false"}}},
    )
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    run_preprocess(settings.data)
    process_seconds = time.perf_counter() - started
    data = load_training_data(settings)
    fallback = model_class("popularity")().fit(data.train_val)

    def fit_and_score(engine: LocalEngine | SparkEngine) -> dict[str, float]:
        started = time.perf_counter()
        model = engine.fit(create_model("als"), "train_val", FitOptions())
        fit_seconds = time.perf_counter() - started
        result = evaluate_model(
            model, data.train_val, data.test, [10], fallback=fallback, bootstrap_samples=0
        )
        return {"fit_seconds": round(fit_seconds, 2), "test_ndcg@10": result.mean("ndcg@10")}

    engines: dict[str, dict[str, Any]] = {"local": fit_and_score(LocalEngine(data))}
    started = time.perf_counter()
    session = spark_session(settings.training.spark)
    session_seconds = time.perf_counter() - started
    try:
        spark = SparkEngine(session, settings, data)
        started = time.perf_counter()
        spark.counts("train_val")  # reads and caches the parts
        read_seconds = time.perf_counter() - started
        engines["spark"] = {
            "master": master,
            "session_start_seconds": round(session_seconds, 2),
            "read_seconds": round(read_seconds, 2),
            **fit_and_score(spark),
        }
    finally:
        session.stop()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        # The 1-minute load average before and after: other work on the machine slows both.
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "dataset": dataset,
        "mirror": mirror,
        "split_strategy": settings.data.split.strategy,
        "interactions": {"train_val": int(data.train_val.nnz), "test": int(data.test.nnz)},
        "users": len(data.users),
        "items": len(data.items),
        "als_params": settings.training.models.params("als").model_dump(),
        "process_seconds": round(process_seconds, 2),
        "engines": engines,
        "ndcg_difference": engines["spark"]["test_ndcg@10"] - engines["local"]["test_ndcg@10"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument(
        "--mirror", default=os.environ.get("MOVIELENS_BASE_URL") or str(DEFAULT_MIRROR)
    )
    parser.add_argument("--master", default="local[*]", help="spark.master")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    output = args.output or RESULTS / f"spark_engine-{args.dataset}.json"
    with tempfile.TemporaryDirectory(prefix="movierec-bench-") as workdir:
        result = run(args.dataset, args.mirror, args.master, Path(workdir))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    local, spark = result["engines"]["local"], result["engines"]["spark"]
    print(
        f"{args.dataset}: local ALS fit {local['fit_seconds']} s (NDCG@10 "
        f"{local['test_ndcg@10']:.4f}); spark fit {spark['fit_seconds']} s (NDCG@10 "
        f"{spark['test_ndcg@10']:.4f}) after {spark['session_start_seconds']} s session start "
        f"and {spark['read_seconds']} s read; written to {output}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
