"""Time the offline pipeline stage by stage, with each stage's peak memory.

Run: `python -m benchmarks.pipeline` (or `make benchmark-pipeline`): ml-100k from the local
mirror (MOVIELENS_BASE_URL or ../shared/data/movielens). `--dataset ml-25m --synthetic`: the
same stages on MovieLens-shaped data of that release's size and format (benchmarks.generate),
taken from `--synthetic-dir` (default ../synthetic/<dataset>/) when it already holds a copy
of the same seed and scale, else generated there first (not timed as a stage). `--until
features` stops after that stage. Every stage runs in this process on the default configs
(full search grids, 1000 bootstrap samples) in a temporary directory; its peak resident
memory is measured on its own (the high-water mark is reset before each stage).
Results, with the machine: benchmarks/results/pipeline.json (ml-100k) or
pipeline-<dataset>[-synthetic].json.
Targets: ml-100k under 60 s (DESIGN section 6); at 10M ratings under 5 minutes; at 25M
under 15 minutes and 8 GB, `process` under 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.generate import SHAPES, generate_release
from benchmarks.machine import machine
from benchmarks.peak_memory import children_peak_mb, peak_mb, reset_peak

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = REPO_ROOT.parent / "shared/data/movielens"
DEFAULT_SYNTHETIC = REPO_ROOT.parent / "synthetic"
RESULTS = REPO_ROOT / "benchmarks/results"
STAGES = ("download", "process", "features", "train", "export")
TARGET_SECONDS = {"ml-100k": 60.0, "ml-10m": 300.0, "ml-25m": 900.0}
TARGET_PEAK_MB = 8000.0


def synthetic_mirror(dataset: str, directory: Path, scale: float, seed: int) -> dict[str, Any]:
    """generation.json of the synthetic copy in `directory`, generated first unless one of
    the same dataset, seed and scale is there."""
    record_path = directory / "generation.json"
    if record_path.is_file() and (directory / f"{dataset}.zip").is_file():
        record: dict[str, Any] = json.loads(record_path.read_text())
        if (record["dataset"], record["seed"], record["scale"]) == (dataset, seed, scale):
            return record
    return generate_release(dataset, directory, "zip", scale, seed)


def run(
    dataset: str,
    mirror: str,
    checksums: dict[str, str] | None,
    workdir: Path,
    until: str,
    save: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Run the stages up to `until` in `workdir`, passing the record so far to `save` after
    each; return the timings and results."""
    start = time.perf_counter()
    from movierec.config import load_settings
    from movierec.data.download import download_dataset
    from movierec.data.preprocess import run_preprocess
    from movierec.features.build import run_build_features
    from movierec.training.export import export_production
    from movierec.training.train import train

    import_seconds = time.perf_counter() - start
    data: dict[str, Any] = {
        "dataset": dataset,
        "base_url": mirror,
        "raw_dir": workdir / "data/raw",
        "processed_dir": workdir / "data/processed",
        "features_dir": workdir / "data/features",
    }
    if checksums is not None:
        data["checksums"] = {dataset: checksums}
    settings = load_settings(
        data=data,
        training={
            "export_dir": workdir / "models/production",
            "mlflow": {
                "tracking_uri": f"sqlite:///{workdir / 'mlflow.db'}",
                "artifact_location": workdir / "mlartifacts",
            },
        },
    )
    results: dict[str, Any] = {}
    work: dict[str, Callable[[], Any]] = {
        "download": lambda: download_dataset(settings.data),
        "process": lambda: run_preprocess(settings.data, results["download"]),
        "features": lambda: run_build_features(settings.data),
        "train": lambda: train(settings),
        "export": lambda: export_production(settings),
    }
    stages: dict[str, dict[str, float]] = {}
    record: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "dataset": dataset,
        "split_strategy": settings.data.split.strategy,
        "mirror": mirror,
        "import_seconds": round(import_seconds, 2),
        "stages": stages,
    }
    for stage in STAGES[: STAGES.index(until) + 1]:
        reset_peak()
        began = time.perf_counter()
        results[stage] = work[stage]()
        stages[stage] = {
            "seconds": round(time.perf_counter() - began, 2),
            "peak_rss_mb": round(peak_mb()),
        }
        print(f"{stage}: {stages[stage]['seconds']:.1f} s, peak {stages[stage]['peak_rss_mb']} MB")
        record |= {
            "total_seconds": round(sum(s["seconds"] for s in stages.values()), 2),
            "peak_rss_mb": max(s["peak_rss_mb"] for s in stages.values()),
            "children_peak_rss_mb": round(children_peak_mb()),
        }
        save(record)  # after every stage, so a long run that is stopped still reports
    training = results.get("train")
    if training is not None:
        metric = training.selection_metric
        record |= {
            "winner": training.winner,
            "registered_version": training.model_version,
            "gate": training.gate.reason,
            metric: {
                kind: {
                    part: {**result.metrics[metric].to_dict(), "users_evaluated": result.n_users}
                    for part, result in (("validation", c.validation), ("test", c.test))
                }
                for kind, c in training.candidates.items()
            },
        }
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(SHAPES), default="ml-100k")
    parser.add_argument("--synthetic", action="store_true", help="MovieLens-shaped data")
    parser.add_argument("--synthetic-dir", type=Path, help="default: ../synthetic/<dataset>")
    parser.add_argument("--scale", type=float, default=1.0, help="of the synthetic size")
    parser.add_argument("--seed", type=int, default=42, help="of the synthetic data")
    parser.add_argument("--until", choices=STAGES, default="export", help="last stage to run")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    extra: dict[str, Any] = {}
    checksums = None
    if args.synthetic:
        directory = args.synthetic_dir or DEFAULT_SYNTHETIC / args.dataset
        generation = synthetic_mirror(args.dataset, directory, args.scale, args.seed)
        mirror = str(directory)
        checksums = generation["sha256"]
        extra = {"synthetic": {k: v for k, v in generation.items() if k != "sha256"}}
    else:
        mirror = os.environ.get("MOVIELENS_BASE_URL") or str(DEFAULT_MIRROR)
    name = f"pipeline-{args.dataset}" + ("-synthetic" if args.synthetic else "")
    if args.dataset == "ml-100k" and not args.synthetic:
        name = "pipeline"
    output = args.output or RESULTS / f"{name}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    target = TARGET_SECONDS.get(args.dataset) if args.until == "export" else None

    def save(record: dict[str, Any]) -> None:
        record = record | extra | {"target_seconds": target}
        output.write_text(json.dumps(record, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="movierec-bench-") as workdir:
        result = run(args.dataset, mirror, checksums, Path(workdir), args.until, save)
    result["within_target"] = (
        None
        if target is None
        else result["total_seconds"] < target and result["peak_rss_mb"] < TARGET_PEAK_MB
    )
    save(result)
    stages = ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in result["stages"].items())
    print(f"pipeline {result['total_seconds']:.1f} s ({stages}); written to {output}")
    return 1 if result["within_target"] is False else 0


if __name__ == "__main__":
    raise SystemExit(main())
