"""Popularity answers for when the personal model cannot answer, and why it could not.

Popularity is the bundle's `popularity.json`; `popularity_order` holds the item columns most
popular first, so every function here is a vectorised pass over it.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class FallbackReason(StrEnum):
    """Why an answer is not (only) the personal model's ranking; every reason there is.

    - `unknown_user`: the user is not in the model; the answer is the most popular items that
      match the filters.
    - `insufficient_candidates`: the user is known, but the filters and `exclude_seen` leave
      fewer than `k` items the model can rank (for the "item_weights" scorer, items with a
      positive score). The model's ranking comes first, then eligible items by popularity; when
      fewer than `k` items are eligible at all, the list is shorter than `k` (possibly empty).
    """

    UNKNOWN_USER = "unknown_user"
    INSUFFICIENT_CANDIDATES = "insufficient_candidates"


def popularity_order(popularity: np.ndarray) -> np.ndarray:
    """Item columns from most to least popular (ties by column, so answers are stable)."""
    return np.argsort(-popularity, kind="stable")


def most_popular(order: np.ndarray, eligible: np.ndarray | None, k: int) -> np.ndarray:
    """The `k` most popular columns among `eligible` (a boolean mask; None means all items)."""
    if eligible is None:
        return order[:k]
    return order[eligible[order]][:k]
