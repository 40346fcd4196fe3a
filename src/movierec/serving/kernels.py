"""The compiled kernel behind /recommend's common request (numba; no Python loop at run time).

A request without filters on an embeddings bundle is: score every item, drop the items the
user has seen, keep the k best. In numpy that is about ten calls (a product, a copy, a masked
assignment, a partial sort, comparisons, gathers, a sort), and in a loaded server each call
costs far more than its arithmetic. `embedding_top_k` does it in one call: a vectorised pass
over the item factors, then one pass over the scores with a k-long buffer. It took /recommend
from 0.55x to about 0.63x the throughput of /health (`make benchmark-serving`). Filtered
requests and the "item_weights" scorer keep the numpy path of `movierec.serving.ranking`;
both break ties by column, so either path gives the same ranking.

The kernel compiles when a bundle loads (`compile_for`), never at import and never during a
request. Compiled code is cached on disk (numba's `cache=True`: `__pycache__` beside this file,
or numba's user cache directory when that is read-only), so only the first process after an
install or an edit of this file compiles (about 2 s, more under load); later ones load it
(about 0.1 s).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(fastmath=True, cache=True)  # keeps the GIL: the event loop has nothing to run meanwhile
def embedding_top_k(
    item_factors: np.ndarray,
    user_vector: np.ndarray,
    seen: np.ndarray,
    seen_start: int,
    seen_end: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Columns and scores of the `k` items with the highest `user_vector @ item_factors`,
    best first (ties by column), leaving out the columns in `seen[seen_start:seen_end]`
    (sorted ascending: a row of a CSR matrix, given by its `indices` and bounds, so that no
    slice is made per request).

    `item_factors` is the item embeddings transposed, (n_factors, n_items) and C-contiguous.
    Fewer than `k` come back only when fewer than `k` items are left."""
    n_factors, n_items = item_factors.shape
    # Factor by factor over contiguous rows: the compiler vectorises the inner loop.
    scores = item_factors[0] * user_vector[0]
    for factor in range(1, n_factors):
        weight = user_vector[factor]
        row = item_factors[factor]
        for column in range(n_items):
            scores[column] += row[column] * weight
    best_scores = np.empty(k, dtype=scores.dtype)
    best_columns = np.empty(k, dtype=np.int64)
    filled = 0
    next_seen = seen_start
    for column in range(n_items):
        score = scores[column]
        if filled == k and not score > best_scores[k - 1]:
            continue  # not better than the k-th best: an equal score keeps the earlier column
        while next_seen < seen_end and seen[next_seen] < column:
            next_seen += 1
        if next_seen < seen_end and seen[next_seen] == column:
            continue
        # Insert into the buffer, kept in descending order, after any equal score (an earlier
        # column); when the buffer is full the k-th best falls off its end.
        position = filled if filled < k else k - 1
        while position > 0 and best_scores[position - 1] < score:
            best_scores[position] = best_scores[position - 1]
            best_columns[position] = best_columns[position - 1]
            position -= 1
        best_scores[position] = score
        best_columns[position] = column
        filled = min(filled + 1, k)
    return best_columns[:filled], best_scores[:filled]


def compile_for(
    item_factors: np.ndarray, user_embeddings: np.ndarray, seen_indices: np.ndarray
) -> None:
    """Compile the kernel for these arrays' types now, or load it from the on-disk cache;
    `seen_indices` is the `indices` array of the user-item CSR matrix."""
    if item_factors.size and len(user_embeddings):
        embedding_top_k(item_factors, user_embeddings[0], seen_indices, 0, 0, 1)
