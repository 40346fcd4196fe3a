"""Time `train` alone on one dataset: wall time, CPU, peak memory and every candidate's NDCG@10.

Run: `python -m benchmarks.train --dataset ml-10m --base-url DIR` (DIR holds <dataset>.zip;
default MOVIELENS_BASE_URL or ../shared/data/movielens). The dataset is downloaded, processed
and featurised once into `--workdir` (kept, so that runs before and after a change train on
the same processed data); then training runs in a child process under `/usr/bin/time -v`,
whose peak resident set size is the figure quoted. Settings can be changed for the run with
MOVIEREC_* variables as usual. The result, with the machine, goes to
benchmarks/results/train-<dataset>-<label>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import machine

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = REPO_ROOT.parent / "shared/data/movielens"
RESULTS_DIR = REPO_ROOT / "benchmarks/results"
TIME = "/usr/bin/time"
# Figures of `/usr/bin/time -v` kept in the result, by the label it prints.
TIME_FIELDS = {
    "user_seconds": "User time (seconds)",
    "system_seconds": "System time (seconds)",
    "peak_rss_kb": "Maximum resident set size (kbytes)",
}


def settings_for(workdir: Path, dataset: str, base_url: str) -> Any:
    """Settings that keep every file of the run inside `workdir`."""
    from movierec.config import load_settings

    return load_settings(
        data={
            "dataset": dataset,
            "base_url": base_url,
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


def prepare(settings: Any) -> dict[str, Any]:
    """Download, process and featurise once; the processed data's size."""
    from movierec.data.download import download_dataset
    from movierec.data.preprocess import run_preprocess
    from movierec.features.build import run_build_features

    report = run_preprocess(settings.data, download_dataset(settings.data))
    run_build_features(settings.data)
    return report.to_dict()


def child(workdir: Path, dataset: str, base_url: str, output: Path) -> None:
    """Train (the timed process) and write each candidate's results to `output`."""
    from movierec.training.train import train

    report = train(settings_for(workdir, dataset, base_url))
    metric = report.selection_metric
    output.write_text(
        json.dumps(
            {
                "winner": report.winner,
                "selection_metric": metric,
                "candidates": {
                    kind: {
                        "params": result.params,
                        "grid_points": len(result.search),
                        **{
                            part: {
                                **evaluation.metrics[metric].to_dict(),
                                "users_evaluated": evaluation.n_users,
                            }
                            for part, evaluation in (
                                ("validation", result.validation),
                                ("test", result.test),
                            )
                        },
                    }
                    for kind, result in report.candidates.items()
                },
            },
            indent=2,
        )
    )


def time_figures(stderr: str) -> dict[str, float]:
    """The figures of `/usr/bin/time -v` kept in the result."""
    figures: dict[str, float] = {}
    for key, label in TIME_FIELDS.items():
        match = re.search(rf"{re.escape(label)}: ([\d.]+)", stderr)
        if match:
            figures[key] = float(match.group(1))
    return figures


def run(workdir: Path, dataset: str, base_url: str, label: str) -> dict[str, Any]:
    """Prepare the data if needed, then train under `/usr/bin/time -v`; the result."""
    settings = settings_for(workdir, dataset, base_url)
    processed = settings.data.processed_dir
    preprocess_report = prepare(settings) if not (processed / "report.json").is_file() else {}
    output = workdir / f"train-{label}.json"
    command = [TIME, "-v", sys.executable, "-m", "benchmarks.train", "--child"]
    command += ["--workdir", str(workdir), "--dataset", dataset, "--base-url", base_url]
    command += ["--child-output", str(output)]
    started = datetime.now(UTC)
    completed = subprocess.run(
        command, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True, check=False
    )
    wall = (datetime.now(UTC) - started).total_seconds()
    sys.stderr.write(completed.stderr[-4000:])
    if completed.returncode != 0:
        raise SystemExit(f"training failed with exit code {completed.returncode}")
    figures = time_figures(completed.stderr)
    return {
        "date": started.isoformat(timespec="seconds"),
        "label": label,
        "machine": machine(),
        "dataset": dataset,
        "data": preprocess_report or json.loads((processed / "report.json").read_text()),
        "settings_from_environment": {
            k: v for k, v in sorted(os.environ.items()) if k.startswith("MOVIEREC_")
        },
        "train_seconds": round(wall, 1),
        "cpu_seconds": round(figures.get("user_seconds", 0) + figures.get("system_seconds", 0), 1),
        "peak_rss_gb": round(figures.get("peak_rss_kb", 0) / 1e6, 2),
        **json.loads(output.read_text()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument(
        "--base-url", default=os.environ.get("MOVIELENS_BASE_URL") or str(DEFAULT_MIRROR)
    )
    parser.add_argument("--workdir", type=Path, help="kept between runs (default: in /tmp)")
    parser.add_argument("--label", default="current", help="names the result file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.gettempdir()) / f"movierec-train-{args.dataset}"
    if args.child:
        child(workdir, args.dataset, args.base_url, args.child_output)
        return 0
    workdir.mkdir(parents=True, exist_ok=True)
    result = run(workdir, args.dataset, args.base_url, args.label)
    path = RESULTS_DIR / f"train-{args.dataset}-{args.label}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    ndcg = {kind: c["test"]["mean"] for kind, c in result["candidates"].items()}
    print(
        f"train {result['train_seconds']} s, {result['cpu_seconds']} s CPU, peak "
        f"{result['peak_rss_gb']} GB; test {result['selection_metric']} {ndcg}; written to {path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
