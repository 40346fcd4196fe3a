"""The one top-k, exclusion and filtering of item scores, for the engine and the models alike.

A ranking is best first with ties broken by the lower column, and an item scored -inf is not
eligible. `best_k` ranks one score vector (`np.partition` finds the k-th largest value and a
comparison keeps what reaches it) and `top_k` the candidates of a mask through it;
`select_top_k` ranks each row of a matrix with a compiled heap. `ItemFilters` turns genre and
release-year filters into boolean masks over the item columns, built once per model.

Usage:
    >>> best_k(np.array([0.5, 0.9, 0.5, 0.1]), 3).tolist()
    [1, 0, 2]
    >>> select_top_k(np.array([[0.5, -np.inf, 0.9]]), 3)[0].tolist()
    [[2, 0, -1]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from movierec.artifacts import ItemRecord
from movierec.serving import kernels
from movierec.serving.errors import Field, InvalidQueryError

UNKNOWN_YEAR = -1


def best_k(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` largest `values`, largest first (ties by position).

    `np.partition` finds the k-th largest value and a comparison keeps what reaches it: on this
    machine's numpy that is half the time of `np.argpartition` over a 1,682-item catalogue."""
    if len(values) <= k:
        return np.argsort(-values, kind="stable")
    cut = np.partition(values, len(values) - k)[len(values) - k]
    positions = np.flatnonzero(values >= cut)
    return positions[np.argsort(-values[positions], kind="stable")[:k]]


def top_k(scores: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Columns of the `k` best `scores` among the `candidates` mask, best first."""
    columns = np.flatnonzero(candidates)
    return columns[best_k(scores[columns], k)]


def select_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a dense score matrix, best first: int64 columns, float32 scores.

    Entries equal to -inf (or NaN) are ineligible: their slots (and any slots beyond the
    number of columns) hold column -1 and score -inf. The compiled `kernels.rows_top_k`
    keeps a k-long heap per row, without the GIL (2.3x `best_k` row by row on 400 x 59,047)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if scores.dtype not in (np.float32, np.float64):
        scores = scores.astype(np.float64)
    indices = np.empty((scores.shape[0], k), dtype=np.int64)
    values = np.empty((scores.shape[0], k), dtype=scores.dtype)
    kernels.rows_top_k(np.ascontiguousarray(scores), indices, values)
    return indices, values.astype(np.float32, copy=False)


def exclude_interactions(scores: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
    """Set each row's stored items of `user_items` (row i for scores row i) to -inf."""
    rows, columns = user_items.nonzero()
    scores[rows, columns] = -np.inf
    return scores


class ItemFilters:
    """Precomputed filters: one boolean mask per genre and the release year of every column."""

    def __init__(self, items: Sequence[ItemRecord]) -> None:
        self.genres: dict[str, np.ndarray] = {}
        for column, item in enumerate(items):
            for genre in item.genres:
                self.genres.setdefault(genre, np.zeros(len(items), dtype=bool))[column] = True
        self.by_lower_name = {name.lower(): name for name in self.genres}
        self.years = np.array(
            [UNKNOWN_YEAR if item.year is None else item.year for item in items], dtype=np.int64
        )

    @property
    def genre_names(self) -> list[str]:
        return sorted(self.genres)

    def genre(self, name: str, field: Field) -> np.ndarray:
        """The mask of genre `name` (case-insensitive); an unknown name lists the valid ones."""
        canonical = self.by_lower_name.get(name.lower())
        if canonical is None:
            raise InvalidQueryError(
                field, f"unknown genre {name!r}; valid genres: {', '.join(self.genre_names)}", name
            )
        return self.genres[canonical]

    def select(
        self,
        genres: Sequence[str] | None,
        year_min: int | None,
        year_max: int | None,
        field: Field = ("filters",),
    ) -> np.ndarray | None:
        """Columns having one of `genres` and a known year in [year_min, year_max] (None when
        there is no filter); an unknown genre is refused at (*field, "genres", position)."""
        mask: np.ndarray | None = None
        if genres:
            mask = np.zeros(len(self.years), dtype=bool)
            for position, name in enumerate(genres):
                mask |= self.genre(name, (*field, "genres", position))
        if year_min is not None or year_max is not None:
            in_range = self.years != UNKNOWN_YEAR
            if year_min is not None:
                in_range &= self.years >= year_min
            if year_max is not None:
                in_range &= self.years <= year_max
            mask = in_range if mask is None else mask & in_range
        return mask
