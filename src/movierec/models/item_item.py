"""Item-item collaborative filtering: shrunk cosine similarity between item columns.

sim(i, j) = x_i . x_j / (|x_i| |x_j| + shrinkage), where x_i is item i's column of the
user x item matrix; the shrinkage term damps similarities resting on few co-occurrences.
Each item keeps only its `neighbours` most similar items (row i of the sparse weight matrix),
and a user's score for item j is the sum of the similarities of the items in the history.

Usage:
    >>> import numpy as np, scipy.sparse as sp
    >>> user_items = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1]], dtype=np.float32))
    >>> model = ItemItemRecommender(ItemItemParams(shrinkage=0.0)).fit(user_items)
    >>> model.recommend(np.array([0]), user_items[[0]], k=1)[0]
    array([[2]])
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from movierec.models.base import CSR_ENTRY_BYTES, ItemWeightParams, ItemWeightRecommender
from movierec.models.compute import FitOptions, block_rows, map_blocks
from movierec.models.params import SearchSpace
from movierec.models.sparse_product import product_rows
from movierec.serving.ranking import select_top_k

Neighbours = Annotated[int, Field(ge=1)]
Shrinkage = Annotated[float, Field(ge=0)]


class ItemItemParams(ItemWeightParams):
    """Item-item hyper-parameters.

    Attributes:
        neighbours: similar items kept per item.
        shrinkage: added to the norm product; 0 gives plain cosine.
        embedding_dim: see `ItemWeightParams`.
    """

    neighbours: Neighbours = 100
    shrinkage: Shrinkage = 10.0


class ItemItemSearch(SearchSpace):
    """Searchable on validation; nothing is searched unless configured."""

    neighbours: list[Neighbours] = []
    shrinkage: list[Shrinkage] = []


class ItemItemRecommender(ItemWeightRecommender):
    """Shrunk-cosine item neighbourhood model (the "item_weights" scorer)."""

    kind = "item_item"
    params_type = ItemItemParams
    search_type = ItemItemSearch

    params: ItemItemParams

    def memory_needed(self, n_users: int, n_items: int, n_interactions: int) -> int:
        """The transposed matrix and the kept neighbours (the dense blocks are bounded apart)."""
        kept = n_items * min(self.params.neighbours, n_items) * (CSR_ENTRY_BYTES + 8)
        return n_interactions * CSR_ENTRY_BYTES + kept

    def _fit_weights(self, user_items: sp.csr_matrix, options: FitOptions) -> sp.csr_matrix:
        n_items = user_items.shape[1]
        item_users = user_items.T.tocsr()
        norms = np.sqrt(np.asarray(item_users.multiply(item_users).sum(axis=1)).ravel())
        norms = norms.astype(np.float32)
        keep = min(self.params.neighbours, max(n_items - 1, 1))
        shrinkage = np.float32(self.params.shrinkage)

        def neighbours(start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """The kept (row, column, similarity) of items [start, stop)."""
            dots = product_rows(item_users, user_items, start, stop)
            denom = np.outer(norms[start:stop], norms)
            denom += shrinkage
            sims = np.divide(dots, denom, out=dots, where=denom > 0)
            sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf
            top, top_sims = select_top_k(sims, keep)
            kept = (top >= 0) & (top_sims > 0)
            rows = np.broadcast_to(np.arange(start, stop)[:, None], top.shape)[kept]
            return rows, top[kept], top_sims[kept]

        # Dense per row of a block: the products, the denominators (float32) and their quotient.
        rows_per_block = block_rows(n_items, 3 * 4, options)
        parts = [part for _, _, part in map_blocks(neighbours, n_items, rows_per_block, options)]
        rows, cols, values = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
        weights = sp.csr_matrix((values, (rows, cols)), shape=(n_items, n_items), dtype=np.float32)
        weights.sort_indices()
        return weights
