"""Similar-item tables: any item-similarity source, a popularity penalty, the shared audience.

A source gives rows of raw similarity between items; `similar_items_table` divides them by
the candidate's audience to the power `popularity_penalty` (0 leaves them as they are; the
larger, the less a blockbuster is everyone's neighbour), keeps each item's `size` best, and
records how many users the item shares with each of them, for the answer to say why.
Only items that share at least one user and have a positive similarity are listed.

`shrunk_cosine` is the source serving uses (chosen by `benchmarks/similar.py`, see the
README); `weight_rows` (EASE, item-item weights) and `embedding_cosine` (ALS factors) are
the candidates it was compared with.

Usage:
    >>> import numpy as np, scipy.sparse as sp
    >>> user_items = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=np.float32))
    >>> table = similar_items_table(user_items, shrunk_cosine(0.0), popularity_penalty=0.0, size=2)
    >>> table.columns[0].tolist(), table.shared[0].tolist(), table.audience.tolist()
    ([1, 2], [2, 1], [2, 3, 2])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from movierec.artifacts import SimilarItems
from movierec.models.base import ModelError, as_user_items, normalise_rows
from movierec.models.compute import FitOptions, block_rows, map_blocks
from movierec.models.sparse_product import product_rows
from movierec.serving.ranking import select_top_k

# Bytes per item pair of a block: the shared counts, the similarities and their temporaries.
DENSE_BYTES_PER_ENTRY = 24

RowSource = Callable[[int, int, np.ndarray, np.ndarray], np.ndarray]
"""(start, stop, shared, audience) -> float32 similarities of items [start, stop) to every
item, where `shared` is the (stop - start, n_items) count of users they have in common and
`audience` the number of users of every item."""


def shrunk_cosine(shrinkage: float) -> RowSource:
    """Cosine of the items' audiences, damped when they share few users:
    shared / (sqrt(audience_i * audience_j) + shrinkage)."""
    if shrinkage < 0:
        raise ModelError(f"shrinkage must be >= 0, got {shrinkage}")

    def rows(start: int, stop: int, shared: np.ndarray, audience: np.ndarray) -> np.ndarray:
        norms = np.sqrt(audience, dtype=np.float32)
        denominator = np.outer(norms[start:stop], norms) + np.float32(shrinkage)
        overlap = shared.astype(np.float32)
        return np.divide(overlap, denominator, out=np.zeros_like(overlap), where=denominator > 0)

    return rows


def weight_rows(weights: np.ndarray | sp.csr_matrix) -> RowSource:
    """Rows of an item x item weight matrix (EASE's B, item-item's W) as similarities."""

    def rows(start: int, stop: int, shared: np.ndarray, audience: np.ndarray) -> np.ndarray:
        block = weights[start:stop]
        dense = block if isinstance(block, np.ndarray) else block.toarray()
        return np.asarray(dense, dtype=np.float32)

    return rows


def embedding_cosine(item_vectors: np.ndarray) -> RowSource:
    """Cosine of item embeddings (ALS factors, SVD vectors)."""
    unit = normalise_rows(item_vectors)

    def rows(start: int, stop: int, shared: np.ndarray, audience: np.ndarray) -> np.ndarray:
        return np.asarray(unit[start:stop] @ unit.T, dtype=np.float32)

    return rows


def similar_items_table(
    user_items: sp.csr_matrix,
    source: RowSource,
    popularity_penalty: float,
    size: int,
    options: FitOptions | None = None,
) -> SimilarItems:
    """The `size` most similar items of every item by `source`, penalised by popularity.

    score(i, j) = source(i, j) / audience_j ** popularity_penalty, where audience_j is the
    number of users with item j in `user_items` (any value counts as an interaction). Rows are
    computed in blocks on the threads of `options`, within its block budget.
    """
    if popularity_penalty < 0:
        raise ModelError(f"popularity_penalty must be >= 0, got {popularity_penalty}")
    if size < 1:
        raise ModelError(f"size must be at least 1, got {size}")
    options = options or FitOptions()
    binary = as_user_items(user_items).copy()
    binary.eliminate_zeros()
    binary.data[:] = 1.0
    n_items = binary.shape[1]
    item_users = binary.T.tocsr()
    audience = np.asarray(item_users.sum(axis=1)).ravel().astype(np.int64)
    penalty = np.maximum(audience, 1).astype(np.float32) ** np.float32(popularity_penalty)
    keep = min(size, max(n_items - 1, 1))

    def most_similar(start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Columns, scores and shared users of the `keep` best of items [start, stop)."""
        together = product_rows(item_users, binary, start, stop)  # exact below 2**24
        similarity = source(start, stop, together, audience) / penalty
        rows = np.arange(stop - start)
        eligible = (together > 0) & (similarity > 0)
        eligible[rows, np.arange(start, stop)] = False
        top, top_scores = select_top_k(np.where(eligible, similarity, -np.inf), keep)
        listed = top >= 0
        counts = together[rows[:, None], np.maximum(top, 0)].astype(np.int32)
        return top, np.where(listed, top_scores, 0.0), np.where(listed, counts, 0)

    columns = np.full((n_items, keep), -1, dtype=np.int32)
    scores = np.zeros((n_items, keep), dtype=np.float32)
    shared = np.zeros((n_items, keep), dtype=np.int32)
    rows_per_block = block_rows(n_items, DENSE_BYTES_PER_ENTRY, options)
    for start, stop, (top, top_scores, counts) in map_blocks(
        most_similar, n_items, rows_per_block, options
    ):
        columns[start:stop] = top
        scores[start:stop] = top_scores
        shared[start:stop] = counts
    return SimilarItems(columns, scores, shared, audience.astype(np.int32))
