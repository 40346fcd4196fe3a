"""Popularity answers for when the personal model cannot answer (see `FallbackReason`).

Popularity is the bundle's `popularity.json`; `order` holds the item columns most popular
first, so every function here is a vectorised pass over it.
"""

from __future__ import annotations

import numpy as np


def popularity_order(popularity: np.ndarray) -> np.ndarray:
    """Item columns from most to least popular (ties by column, so answers are stable)."""
    return np.argsort(-popularity, kind="stable")


def most_popular(order: np.ndarray, eligible: np.ndarray | None, k: int) -> np.ndarray:
    """The `k` most popular columns among `eligible` (a boolean mask; None means all items)."""
    if eligible is None:
        return order[:k]
    return order[eligible[order]][:k]
