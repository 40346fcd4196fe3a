"""The compiled kernel behind /recommend's common request (numba; no Python loop at run time).

A request without filters on an embeddings bundle is: score every item, drop the items the
user has seen, keep the k best. In numpy that is about ten calls (a product, a copy, a masked
assignment, a partial sort, comparisons, gathers, a sort), and in a loaded server each call
costs far more than its arithmetic. `embedding_top_k` does it in one call: a vectorised pass
over the item factors, then one pass over the scores with a k-long buffer. It took /recommend
from 0.55x to about 0.63x the throughput of /health (`make benchmark-serving`). Filtered
requests and the "item_weights" scorer keep the numpy path of `movierec.serving.ranking`;
both break ties by column, so either path gives the same ranking. `rows_top_k` is the
row-wise top-k behind `movierec.serving.ranking.select_top_k` (the models' `recommend`, the
evaluation and the similar-item tables): one pass per row with a k-long heap, without the
GIL, so the evaluation's batches run on every core.

The kernels compile when a bundle loads (`compile_for`), never at import and never during a
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


@njit(inline="always")
def _worse(value: float, column: int, other_value: float, other_column: int) -> bool:
    """Whether (value, column) ranks below (other_value, other_column): a lower score, or an
    equal score at a later column."""
    return value < other_value or (value == other_value and column > other_column)


@njit(inline="always")
def _sift_down(values: np.ndarray, columns: np.ndarray, position: int, size: int) -> None:
    """Restore the heap below `position` (the worst entry at the root) in values[:size]."""
    while True:
        child = 2 * position + 1
        if child >= size:
            return
        if child + 1 < size and _worse(
            values[child + 1], columns[child + 1], values[child], columns[child]
        ):
            child += 1
        if not _worse(values[child], columns[child], values[position], columns[position]):
            return
        values[position], values[child] = values[child], values[position]
        columns[position], columns[child] = columns[child], columns[position]
        position = child


@njit(nogil=True, cache=True)
def rows_top_k(scores: np.ndarray, columns: np.ndarray, values: np.ndarray) -> None:
    """Fill row r of `columns` and `values` (each (n_rows, k)) with the columns and scores of
    the k best of `scores[r]`, best first, ties by the lower column; -inf and NaN are not
    eligible, and slots left over hold column -1 and score -inf."""
    k = columns.shape[1]
    for row in range(scores.shape[0]):
        row_scores = scores[row]
        heap_values = values[row]
        heap_columns = columns[row]
        size = 0
        for column in range(row_scores.shape[0]):
            score = row_scores[column]
            if not score > -np.inf:
                continue
            if size < k:  # sift the new entry up from the end
                position = size
                size += 1
                while position > 0:
                    parent = (position - 1) // 2
                    if not _worse(score, column, heap_values[parent], heap_columns[parent]):
                        break
                    heap_values[position] = heap_values[parent]
                    heap_columns[position] = heap_columns[parent]
                    position = parent
                heap_values[position] = score
                heap_columns[position] = column
            elif score > heap_values[0]:  # an equal score is at a later column: worse
                heap_values[0] = score
                heap_columns[0] = column
                _sift_down(heap_values, heap_columns, 0, size)
        # Pop the worst to the end until the heap is empty: best first.
        for last in range(size - 1, 0, -1):
            heap_values[0], heap_values[last] = heap_values[last], heap_values[0]
            heap_columns[0], heap_columns[last] = heap_columns[last], heap_columns[0]
            _sift_down(heap_values, heap_columns, 0, last)
        for slot in range(size, k):
            heap_values[slot] = -np.inf
            heap_columns[slot] = -1


def compile_for(
    item_factors: np.ndarray, user_embeddings: np.ndarray, seen_indices: np.ndarray
) -> None:
    """Compile the kernels for these arrays' types now, or load them from the on-disk cache;
    `seen_indices` is the `indices` array of the user-item CSR matrix."""
    if item_factors.size and len(user_embeddings):
        embedding_top_k(item_factors, user_embeddings[0], seen_indices, 0, 0, 1)
    rows_top_k(
        np.zeros((1, 1), dtype=np.float32),
        np.empty((1, 1), dtype=np.int64),
        np.empty((1, 1), dtype=np.float32),
    )
