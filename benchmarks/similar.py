"""Compare the similar-movie sources offline on ml-100k from the local mirror.

Run: `python -m benchmarks.similar` (or `make benchmark-similar`). The mirror is
MOVIELENS_BASE_URL or ../shared/data/movielens; the data is extracted to a temporary
directory. Every candidate of `movierec.training.evaluate_similar.default_candidates` is
measured by that module's protocol (5 folds of users, co-liked pairs, franchise pairs); the
figures, the chosen candidate, Star Wars' lists, the machine and the date go to
benchmarks/results/similar.json.
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
RESULTS = REPO_ROOT / "benchmarks/results/similar.json"


def run(mirror: str, workdir: Path, folds: int) -> dict[str, Any]:
    """Measure every candidate on ml-100k extracted into `workdir`."""
    from movierec.config import load_settings
    from movierec.data.download import download_dataset
    from movierec.data.loaders import load_dataset
    from movierec.training.evaluate_similar import compare_candidates

    settings = load_settings(data={"base_url": mirror, "raw_dir": workdir / "raw"})
    raw = load_dataset(settings.data.dataset, download_dataset(settings.data))
    start = time.perf_counter()
    comparison = compare_candidates(raw.ratings, raw.items, settings, folds=folds)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "dataset": settings.data.dataset,
        "mirror": mirror,
        "seconds": round(time.perf_counter() - start, 1),
        "configured": settings.training.similar.model_dump(),
        **comparison.to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    mirror = os.environ.get("MOVIELENS_BASE_URL") or str(DEFAULT_MIRROR)
    with tempfile.TemporaryDirectory(prefix="movierec-similar-") as workdir:
        result = run(mirror, Path(workdir), args.folds)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    header = "candidate", "item hit@10", "pair hit@10", "franchise@5", "@10", "audience"
    print("{:<38} {:>11} {:>11} {:>11} {:>5} {:>8}".format(*header))
    for row in sorted(result["results"], key=lambda r: -r["item_hit_rate"]):
        print(
            f"{row['name']:<38} {row['item_hit_rate']:>11.4f} {row['pair_hit_rate']:>11.4f} "
            f"{row['franchise_recall_at_5']:>11.2f} {row['franchise_recall_at_10']:>5.2f} "
            f"{row['mean_audience']:>8.1f}"
        )
    print(f"chosen: {result['chosen']}; {result['n_pairs']} pairs; written to {args.output}")
    configured = result["configured"]
    print(
        f"configured (training.similar): shrinkage={configured['shrinkage']:g} "
        f"penalty={configured['popularity_penalty']:g}"
    )
    for name, titles in result["examples"].items():
        print(f"Star Wars by {name}: {'; '.join(titles)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
