"""Popularity answers for when the personal model cannot answer, and why it could not.

Popularity is the bundle's `popularity.json`; `popularity_order` holds the item columns most
popular first, so every function here is a vectorised pass over it.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class FallbackReason(StrEnum):
    """Why an answer is not (only) the personal model's ranking; every reason there is.

    - `unknown_user`: the user is not in the model and has no feedback (nor inline history);
      the answer is the most popular items that match the filters.
    - `insufficient_candidates`: the user is known, but the filters and `exclude_seen` leave
      fewer than `k` items the model can rank (for the "item_weights" scorer, items with a
      positive score). The model's ranking comes first, then eligible items by popularity; when
      fewer than `k` items are eligible at all, the list is shorter than `k` (possibly empty).
    - `new_user`: a user created through the service (`POST /users`) without a positive event
      yet (a rating of 3 or more, a watch or a click); popular items as for `unknown_user`.
    - `no_positive_feedback`: a user the model does not know, whose events (or inline
      history) are all negative (dislikes, ratings below 3); popular items, the disliked left out.

    A user with at least one positive event is personal (`is_fallback` false), whether or
    not the model was trained on them.
    """

    UNKNOWN_USER = "unknown_user"
    NEW_USER = "new_user"
    NO_POSITIVE_FEEDBACK = "no_positive_feedback"
    INSUFFICIENT_CANDIDATES = "insufficient_candidates"


def popularity_order(popularity: np.ndarray) -> np.ndarray:
    """Item columns from most to least popular (ties by column, so answers are stable)."""
    return np.argsort(-popularity, kind="stable")


def most_popular(order: np.ndarray, eligible: np.ndarray | None, k: int) -> np.ndarray:
    """The `k` most popular columns among `eligible` (a boolean mask; None means all items)."""
    if eligible is None:
        return order[:k]
    return order[eligible[order]][:k]
