"""Load and validate a production bundle (`movierec.artifacts`) into an immutable `LoadedModel`.

Validation happens before anything is served: every required file is present, array shapes
agree with the mappings and the metadata, ids map one-to-one onto rows and columns, and no
number is NaN or infinite. Dense arrays are memory-mapped (`mmap_mode="r"`) so that several
worker processes share the same pages. Any problem raises `BundleError` naming the file and
the command that rebuilds the bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import scipy.sparse as sp
from pydantic import ValidationError

from movierec import artifacts as art

REBUILD = "run `make train` (or `movierec train`) to rebuild models/production"


class BundleError(Exception):
    """The production bundle is missing, incomplete or inconsistent; the message says which file."""


@dataclass(frozen=True)
class LoadedModel:
    """Everything read from one bundle; never mutated, so a reload swaps it as a whole."""

    directory: Path
    metadata: art.ModelMetadata
    loaded_at: datetime
    user_rows: dict[int, int]
    item_columns: dict[int, int]
    item_ids: np.ndarray
    items: list[art.ItemRecord]
    user_embeddings: np.ndarray
    item_embeddings: np.ndarray
    user_items: sp.csr_matrix
    popularity: np.ndarray
    item_weights: sp.csr_matrix | None
    index: Any

    @property
    def n_users(self) -> int:
        return len(self.user_rows)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def _fail(path: Path, problem: str) -> BundleError:
    return BundleError(f"{path}: {problem}; {REBUILD}")


def _read_json(path: Path) -> Any:
    try:
        return art.read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"cannot be read as JSON ({exc})") from exc


def _load_dense(path: Path, shape: tuple[int, int]) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise _fail(path, f"is not a readable .npy array ({exc})") from exc
    if array.shape != shape:
        raise _fail(path, f"has shape {array.shape}, expected {shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise _fail(path, f"has dtype {array.dtype}, expected float32")
    if not np.isfinite(array).all():
        raise _fail(path, "contains NaN or infinite values")
    # A plain ndarray view of the mapping: np.memmap's per-slice bookkeeping would cost more
    # than the dot product of a request.
    return np.asarray(array)


def _load_sparse(path: Path, shape: tuple[int, int]) -> sp.csr_matrix:
    try:
        matrix = sp.load_npz(path).tocsr()
    except (OSError, ValueError, KeyError) as exc:
        raise _fail(path, f"is not a readable scipy sparse .npz ({exc})") from exc
    if matrix.shape != shape:
        raise _fail(path, f"has shape {matrix.shape}, expected {shape}")
    if not np.isfinite(matrix.data).all():
        raise _fail(path, "contains NaN or infinite values")
    matrix.sort_indices()
    return matrix


def _load_mapping(path: Path, size: int) -> dict[int, int]:
    raw = _read_json(path)
    try:
        mapping = {int(key): int(value) for key, value in raw.items()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise _fail(path, 'expected {"<id>": index} with integer ids and indices') from exc
    if sorted(mapping.values()) != list(range(size)):
        raise _fail(path, f"indices must be exactly 0..{size - 1} (one per row), got {len(raw)}")
    return mapping


def _ids_in_order(mapping: dict[int, int]) -> np.ndarray:
    ids = np.empty(len(mapping), dtype=np.int64)
    for movie_id, column in mapping.items():
        ids[column] = movie_id
    return ids


def _load_items(path: Path, item_ids: np.ndarray) -> list[art.ItemRecord]:
    raw = _read_json(path)
    if not isinstance(raw, list) or len(raw) != len(item_ids):
        raise _fail(path, f"expected a list of {len(item_ids)} items in column order")
    try:
        items = [
            art.ItemRecord(
                movie_id=int(entry["movie_id"]),
                title=str(entry["title"]),
                year=None if entry.get("year") is None else int(entry["year"]),
                genres=[str(genre) for genre in entry.get("genres") or []],
            )
            for entry in raw
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"an item lacks movie_id/title or has a bad field ({exc})") from exc
    if any(item.movie_id != movie_id for item, movie_id in zip(items, item_ids, strict=True)):
        raise _fail(path, "items are not in the column order of item_mapping.json")
    return items


def _load_popularity(path: Path, item_columns: dict[int, int]) -> np.ndarray:
    raw = _read_json(path)
    scores = np.full(len(item_columns), np.nan)
    try:
        for entry in raw:
            scores[item_columns[int(entry["movie_id"])]] = float(entry["score"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"entries must be {{movie_id, score}} of known movies ({exc})") from exc
    if not np.isfinite(scores).all():
        raise _fail(path, "must give a finite score to every item of item_mapping.json")
    return scores


def _load_index(path: Path, n_items: int, dim: int) -> Any:
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise _fail(path, f"is not a readable FAISS index ({exc})") from exc
    if index.ntotal != n_items or index.d != dim:
        raise _fail(
            path, f"holds {index.ntotal} vectors of dim {index.d}, expected {n_items}x{dim}"
        )
    return index


def load_bundle(directory: Path) -> LoadedModel:
    """Validate and load the bundle in `directory`; raise `BundleError` on any problem."""
    if not (directory / art.MODEL_METADATA).is_file():
        raise BundleError(
            f"no production model in {directory} (no {art.MODEL_METADATA}); {REBUILD}"
        )
    meta_path = directory / art.MODEL_METADATA
    try:
        metadata = art.ModelMetadata.model_validate(_read_json(meta_path))
    except ValidationError as exc:
        raise _fail(meta_path, f"does not match ModelMetadata ({exc})") from exc
    required = art.required_files(metadata.scorer)
    missing = [name for name in required if not (directory / name).is_file()]
    if missing:
        raise BundleError(
            f"{directory}: missing {', '.join(missing)} for scorer {metadata.scorer!r}; {REBUILD}"
        )
    n_users, n_items, dim = metadata.n_users, metadata.n_items, metadata.embedding_dim
    user_rows = _load_mapping(directory / art.USER_MAPPING, n_users)
    item_columns = _load_mapping(directory / art.ITEM_MAPPING, n_items)
    item_ids = _ids_in_order(item_columns)
    weights = None
    if metadata.scorer == "item_weights":
        weights = _load_sparse(directory / art.ITEM_WEIGHTS, (n_items, n_items))
    return LoadedModel(
        directory=directory,
        metadata=metadata,
        loaded_at=datetime.now(UTC),
        user_rows=user_rows,
        item_columns=item_columns,
        item_ids=item_ids,
        items=_load_items(directory / art.ITEM_FEATURES, item_ids),
        user_embeddings=_load_dense(directory / art.USER_EMBEDDINGS, (n_users, dim)),
        item_embeddings=_load_dense(directory / art.ITEM_EMBEDDINGS, (n_items, dim)),
        user_items=_load_sparse(directory / art.USER_ITEMS, (n_users, n_items)),
        popularity=_load_popularity(directory / art.POPULARITY, item_columns),
        item_weights=weights,
        index=_load_index(directory / art.ITEM_INDEX, n_items, dim),
    )
