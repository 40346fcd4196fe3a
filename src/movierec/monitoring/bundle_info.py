"""What monitoring reads from the production bundle: catalogue, ids, genres, offline metrics.

Only the bundle's JSON files are read (see `movierec.artifacts`); no model is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from movierec.artifacts import (
    ITEM_FEATURES,
    ITEM_MAPPING,
    METRICS,
    MODEL_METADATA,
    USER_MAPPING,
    read_json,
)
from movierec.genres import distinct_genres


def catalogue_size(model_dir: Path | None) -> int | None:
    """Number of items the production model can recommend; None without a bundle."""
    if model_dir is None or not (model_dir / ITEM_MAPPING).is_file():
        return None
    return len(read_json(model_dir / ITEM_MAPPING))


def known_ids(model_dir: Path, filename: str = USER_MAPPING) -> list[int]:
    """The external ids of a bundle mapping (`user_mapping.json` or `item_mapping.json`)."""
    return sorted(int(key) for key in read_json(model_dir / filename))


def movie_ids(model_dir: Path) -> list[int]:
    """The movie ids of the bundle's catalogue."""
    return known_ids(model_dir, ITEM_MAPPING)


def genres(model_dir: Path) -> list[str]:
    """The distinct genres of the bundle's catalogue, sorted."""
    records = read_json(model_dir / ITEM_FEATURES)
    return distinct_genres(record.get("genres", []) for record in records)


def _as_float(value: Any) -> float | None:
    """A metric value, given bare or as a summary with a `mean`."""
    if isinstance(value, Mapping):
        value = value.get("mean")
    return float(value) if isinstance(value, int | float) else None


def offline_metrics(
    model_dir: Path | None, names: list[str]
) -> tuple[str | None, dict[str, float]]:
    """The production version and its offline TEST-split values of `names` ("precision@10").

    The replay scores logged answers against the test split, so the offline values beside it
    are the test ones: `model_metadata.json` `metrics.test.<name>` first, then `metrics.json`
    `candidates.<model_kind>.test.metrics.<name>.mean`; metrics found nowhere are left out.
    """
    if model_dir is None or not (model_dir / MODEL_METADATA).is_file():
        return None, {}
    metadata = read_json(model_dir / MODEL_METADATA)
    summary = metadata.get("metrics", {}).get("test", {})
    full = read_json(model_dir / METRICS) if (model_dir / METRICS).is_file() else {}
    candidate = full.get("candidates", {}).get(metadata.get("model_kind", ""), {})
    evaluated = candidate.get("test", {}).get("metrics", {})
    found: dict[str, float] = {}
    for name in names:
        value = _as_float(summary.get(name))
        if value is None:
            value = _as_float(evaluated.get(name))
        if value is not None:
            found[name] = value
    return str(metadata.get("version")), found
