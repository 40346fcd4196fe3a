"""Time the whole offline pipeline on ml-100k from the local mirror, stage by stage.

Run: `python -m benchmarks.pipeline` (or `make benchmark-pipeline`). Everything is written
to a temporary directory with the default configs (full search grids, 1000 bootstrap
samples); the mirror is MOVIELENS_BASE_URL or ../shared/data/movielens. The timings, the
machine and the per-model NDCG@10 go to benchmarks/results/pipeline.json.
Target (DESIGN section 6): the whole pipeline under 60 s on 2 cores.
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
RESULTS = REPO_ROOT / "benchmarks/results/pipeline.json"
TARGET_SECONDS = 60.0


def run(mirror: str, workdir: Path) -> dict[str, Any]:
    """Run the pipeline in `workdir` and return the timings and results."""
    start = time.perf_counter()
    from movierec.config import load_settings
    from movierec.training.pipeline import run_pipeline

    import_seconds = time.perf_counter() - start
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
    )
    report = run_pipeline(settings)
    assert report.training is not None
    metric = report.training.selection_metric
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "dataset": settings.data.dataset,
        "split_strategy": settings.data.split.strategy,
        "mirror": mirror,
        "import_seconds": round(import_seconds, 2),
        "stage_seconds": {k: round(v, 2) for k, v in report.stage_seconds.items()},
        "total_seconds": round(report.total_seconds, 2),
        "target_seconds": TARGET_SECONDS,
        "within_target": report.total_seconds < TARGET_SECONDS,
        "winner": report.training.winner,
        "registered_version": report.training.model_version,
        "gate": report.training.gate.reason,
        metric: {
            kind: {
                part: {
                    **result.metrics[metric].to_dict(),
                    "users_evaluated": result.n_users,
                }
                for part, result in (("validation", c.validation), ("test", c.test))
            }
            for kind, c in report.training.candidates.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    mirror = os.environ.get("MOVIELENS_BASE_URL") or str(DEFAULT_MIRROR)
    with tempfile.TemporaryDirectory(prefix="movierec-bench-") as workdir:
        result = run(mirror, Path(workdir))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result["stage_seconds"].items())
    print(f"pipeline {result['total_seconds']:.1f} s ({stages}); written to {args.output}")
    return 0 if result["within_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
