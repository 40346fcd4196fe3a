"""Explicit id vocabularies: MovieLens ids <-> contiguous matrix rows and columns.

Unknown ids map to -1 instead of raising, so callers choose the cold-start path explicitly.

    >>> users = IdMapping.from_ids([30, 10, 20, 10])
    >>> users.to_index(np.array([20, 99]))
    array([ 1, -1])
    >>> users.to_ids(np.array([0, 2]))
    array([10, 30])
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from movierec.data import DataError


class MappingError(DataError):
    """An id mapping is inconsistent or its file cannot be read."""


def countable(ids: np.ndarray) -> bool:
    """Whether `ids` are non-negative and small enough (below 16M or a few times their
    count, as MovieLens ids are) to index a count array instead of being sorted or hashed."""
    return bool(len(ids)) and ids.min() >= 0 and ids.max() < max(1 << 24, 4 * len(ids))


def distinct_ids(ids: np.ndarray) -> np.ndarray:
    """The distinct int64 `ids`, ascending (one counting pass when they are `countable`)."""
    if countable(ids):
        return np.flatnonzero(np.bincount(ids)).astype(np.int64)
    return np.unique(ids)


class IdMapping:
    """A fixed vocabulary of int64 ids; `ids[i]` is the id of index `i`."""

    def __init__(self, ids: npt.ArrayLike) -> None:
        values = np.array(ids, dtype=np.int64)  # a private copy: it is made read-only
        if values.ndim != 1:
            raise MappingError(f"ids must be one-dimensional, got shape {values.shape}")
        self._ids = values
        self._ids.flags.writeable = False
        self._sorter = np.argsort(values, kind="stable")
        self._sorted = values[self._sorter]
        if len(values) > 1 and bool((np.diff(self._sorted) == 0).any()):
            repeated = self._sorted[1:][np.diff(self._sorted) == 0][:5].tolist()
            raise MappingError(f"ids must be unique; repeated: {repeated}")

    @classmethod
    def from_ids(cls, ids: npt.ArrayLike) -> IdMapping:
        """The vocabulary of the distinct `ids`, in ascending order."""
        return cls(distinct_ids(np.asarray(ids, dtype=np.int64)))

    @property
    def ids(self) -> np.ndarray:
        """The ids in index order (read-only)."""
        return self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, int | np.integer):
            return False
        return bool(self.to_index(np.array([item]))[0] >= 0)

    def __repr__(self) -> str:
        return f"IdMapping(n={len(self)})"

    def to_index(self, ids: npt.ArrayLike) -> np.ndarray:
        """Indices of `ids` (int64), -1 for ids outside the vocabulary."""
        query = np.asarray(ids, dtype=np.int64)
        if len(self._ids) == 0:
            return np.full(query.shape, -1, dtype=np.int64)
        position = np.searchsorted(self._sorted, query)
        clipped = np.minimum(position, len(self._sorted) - 1)
        found = self._sorted[clipped] == query
        return np.where(found, self._sorter[clipped], -1).astype(np.int64)

    def to_ids(self, indices: npt.ArrayLike) -> np.ndarray:
        """Ids at `indices`; an index outside 0..len-1 raises IndexError."""
        positions = np.asarray(indices, dtype=np.int64)
        if positions.size and (positions.min() < 0 or positions.max() >= len(self._ids)):
            raise IndexError(
                f"indices must lie in 0..{len(self._ids) - 1}, got {positions.min()}.."
                f"{positions.max()}"
            )
        result: np.ndarray = self._ids[positions]
        return result

    def save(self, path: Path) -> None:
        """Write `{"<id>": index}` JSON."""
        mapping = {str(int(value)): index for index, value in enumerate(self._ids)}
        path.write_text(json.dumps(mapping, separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, path: Path) -> IdMapping:
        """Read `{"<id>": index}` JSON; the indices must be exactly 0..n-1."""
        try:
            mapping = json.loads(path.read_text())
            ids = np.array([int(key) for key in mapping], dtype=np.int64)
            indices = np.array([int(value) for value in mapping.values()], dtype=np.int64)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise MappingError(
                f'{path}: not an id mapping {{"<id>": index}} ({exc}); '
                "run `movierec process` to write it again"
            ) from exc
        if not np.array_equal(np.sort(indices), np.arange(len(indices))):
            raise MappingError(
                f"{path}: indices must be 0..{len(indices) - 1} each once; "
                "run `movierec process` to write it again"
            )
        ordered = np.empty(len(ids), dtype=np.int64)
        ordered[indices] = ids
        return cls(ordered)


def interaction_matrix(
    df: pd.DataFrame, users: IdMapping, items: IdMapping, value: str = "confidence"
) -> sp.csr_matrix:
    """CSR (len(users), len(items)) float32 of `df[value]`; rows with unknown ids are dropped.

    Repeated (user, movie) pairs are summed.
    """
    rows = users.to_index(df["user_id"].to_numpy())
    cols = items.to_index(df["movie_id"].to_numpy())
    known = (rows >= 0) & (cols >= 0)
    values = df[value].to_numpy(dtype=np.float32)[known]
    matrix = sp.csr_matrix(
        (values, (rows[known], cols[known])), shape=(len(users), len(items)), dtype=np.float32
    )
    matrix.sum_duplicates()
    return matrix
