"""Export the `production` model version to the serving directory, atomically.

The version's bundle is downloaded from MLflow into a fresh `models/releases/<version>-<ts>/`
directory and validated (every required file, shapes that agree with the mappings, no NaN);
only then is `models/production` switched to it by replacing a symlink with `os.replace`, so
serving sees either the old complete bundle or the new one, never a mixture. A bundle that
fails validation is deleted and the old production stays as it was.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
import scipy.sparse as sp
from pydantic import ValidationError

from movierec.artifacts import (
    ITEM_EMBEDDINGS,
    ITEM_FEATURES,
    ITEM_INDEX,
    ITEM_MAPPING,
    ITEM_WEIGHTS,
    METRICS,
    MODEL_METADATA,
    POPULARITY,
    USER_EMBEDDINGS,
    USER_ITEMS,
    USER_MAPPING,
    ModelMetadata,
    read_json,
    required_files,
    write_json,
)
from movierec.config import Settings
from movierec.training import mlflow_utils as tracking

RELEASES_DIR = "releases"
# Releases kept besides the one in production, for a quick manual rollback.
KEEP_RELEASES = 3


class ExportError(RuntimeError):
    """No valid production bundle can be exported; the message says what to do."""


def _check(condition: bool, directory: Path, problem: str) -> None:
    if not condition:
        raise ExportError(
            f"bundle {directory} is invalid: {problem}; retrain with `movierec train`"
        )


def _check_mapping(directory: Path, name: str, size: int) -> None:
    mapping = read_json(directory / name)
    _check(len(mapping) == size, directory, f"{name} has {len(mapping)} ids, expected {size}")
    indices = np.sort(np.fromiter(mapping.values(), dtype=np.int64, count=len(mapping)))
    _check(np.array_equal(indices, np.arange(size)), directory, f"{name} indices are not 0..n-1")


def _check_finite(directory: Path, name: str, values: np.ndarray) -> None:
    _check(bool(np.isfinite(values).all()), directory, f"{name} holds NaN or infinite values")


def validate_bundle(directory: Path) -> ModelMetadata:
    """Check a bundle directory against the artifact contract; returns its metadata."""
    _check((directory / MODEL_METADATA).is_file(), directory, f"{MODEL_METADATA} is missing")
    try:
        metadata = ModelMetadata.model_validate(read_json(directory / MODEL_METADATA))
    except (ValueError, ValidationError) as exc:
        raise ExportError(f"bundle {directory}: unreadable {MODEL_METADATA} ({exc})") from exc
    missing = [
        n for n in (*required_files(metadata.scorer), METRICS) if not (directory / n).is_file()
    ]
    _check(not missing, directory, f"missing {', '.join(missing)}")
    n_users, n_items = metadata.n_users, metadata.n_items
    try:
        users = np.load(directory / USER_EMBEDDINGS, allow_pickle=False)
        items = np.load(directory / ITEM_EMBEDDINGS, allow_pickle=False)
        user_items = sp.load_npz(directory / USER_ITEMS)
        index = faiss.deserialize_index(
            np.frombuffer((directory / ITEM_INDEX).read_bytes(), dtype=np.uint8)
        )
        features = read_json(directory / ITEM_FEATURES)
        popularity = read_json(directory / POPULARITY)
        read_json(directory / METRICS)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ExportError(f"bundle {directory} has an unreadable file ({exc})") from exc
    dim = metadata.embedding_dim
    _check(users.shape == (n_users, dim), directory, f"user embeddings {users.shape}")
    _check(items.shape == (n_items, dim), directory, f"item embeddings {items.shape}")
    _check(user_items.shape == (n_users, n_items), directory, f"user_items {user_items.shape}")
    _check(index.ntotal == n_items and index.d == dim, directory, "index size or dimension")
    _check(len(features) == n_items, directory, f"{len(features)} item features for {n_items}")
    _check(len(popularity) == n_items, directory, f"{len(popularity)} popularity entries")
    _check_mapping(directory, USER_MAPPING, n_users)
    _check_mapping(directory, ITEM_MAPPING, n_items)
    _check_finite(directory, USER_EMBEDDINGS, users)
    _check_finite(directory, ITEM_EMBEDDINGS, items)
    _check_finite(directory, USER_ITEMS, user_items.data)
    _check_finite(directory, POPULARITY, np.array([p["score"] for p in popularity], dtype=float))
    if metadata.scorer == "item_weights":
        weights = sp.load_npz(directory / ITEM_WEIGHTS)
        _check(weights.shape == (n_items, n_items), directory, f"item weights {weights.shape}")
        _check_finite(directory, ITEM_WEIGHTS, weights.data)
    return metadata


def switch_production(release: Path, target: Path) -> None:
    """Point `target` at `release` atomically (a relative symlink swapped by `os.replace`).

    A `target` that is still a real directory (an older layout or a hand-made copy) is first
    moved into the releases directory, so it is kept and the symlink can take its place.
    """
    if target.exists() and not target.is_symlink():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target.rename(release.parent / f"previous-{stamp}")
    link = target.with_name(f".{target.name}.link-{uuid.uuid4().hex[:8]}")
    link.symlink_to(os.path.relpath(release, target.parent), target_is_directory=True)
    link.replace(target)


def _prune(releases: Path, current: Path) -> None:
    """Delete all but the newest KEEP_RELEASES releases besides `current`."""
    others = sorted(
        (
            p
            for p in releases.iterdir()
            if p.is_dir() and p != current and not p.name.startswith(".")
        ),
        key=lambda p: p.stat().st_mtime,
    )
    for old in others[: max(0, len(others) - KEEP_RELEASES)]:
        shutil.rmtree(old, ignore_errors=True)


def export_production(settings: Settings) -> Path:
    """Export the version the production alias names to `training.export_dir`; returns it."""
    names = settings.training.mlflow
    client = tracking.tracking_client(names)
    version = tracking.aliased_version(client, names.registered_model_name, names.production_alias)
    if version is None:
        raise ExportError(
            f"no version of model {names.registered_model_name!r} has the alias "
            f"{names.production_alias!r} in {names.tracking_uri}: run `movierec train` first"
        )
    target = Path(settings.training.export_dir)
    releases = target.parent / RELEASES_DIR
    releases.mkdir(parents=True, exist_ok=True)
    staging = releases / f".staging-{uuid.uuid4().hex[:8]}"
    try:
        bundle = tracking.download_version(version, staging)
        metadata = validate_bundle(bundle)
        metadata.version = str(version.version)
        write_json(bundle / MODEL_METADATA, metadata.model_dump())
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        release = releases / f"{version.version}-{stamp}-{uuid.uuid4().hex[:4]}"
        bundle.rename(release)
        switch_production(release, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune(releases, release)
    return target
