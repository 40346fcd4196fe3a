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
    return sorted({genre for record in records for genre in record.get("genres", [])})


def _find_metric(payload: Any, key: str) -> float | None:
    """The value of metric `key` in nested evaluation JSON (skipping cold-user blocks)."""
    if not isinstance(payload, Mapping):
        return None
    if key in payload:
        value = payload[key]
        if isinstance(value, Mapping):
            value = value.get("mean", value.get("value"))
        if isinstance(value, int | float):
            return float(value)
    for name, child in payload.items():
        if name != "cold_users":
            found = _find_metric(child, key)
            if found is not None:
                return found
    return None


def offline_metrics(
    model_dir: Path | None, names: list[str]
) -> tuple[str | None, dict[str, float]]:
    """The production version and its offline values of `names` (e.g. "precision@10").

    Looks in `model_metadata.json` metrics first, then in `metrics.json` under the model's
    name; metrics found nowhere are left out.
    """
    if model_dir is None or not (model_dir / MODEL_METADATA).is_file():
        return None, {}
    metadata = read_json(model_dir / MODEL_METADATA)
    full = read_json(model_dir / METRICS) if (model_dir / METRICS).is_file() else {}
    own = full.get(metadata.get("model_name", ""), {}) if isinstance(full, Mapping) else {}
    found: dict[str, float] = {}
    for name in names:
        value = _find_metric(metadata.get("metrics", {}), name)
        if value is None:
            value = _find_metric(own, name)
        if value is not None:
            found[name] = value
    return str(metadata.get("version")), found
