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

from movierec.models.base import ItemWeightParams, ItemWeightRecommender
from movierec.models.params import SearchSpace
from movierec.serving.ranking import select_top_k

# Dense similarity entries computed per block of columns: bounds memory on large catalogues.
BLOCK_ENTRIES = 1 << 24

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

    def _fit_weights(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        n_items = user_items.shape[1]
        item_users = user_items.T.tocsr()
        columns = user_items.tocsc()
        norms = np.sqrt(np.asarray(columns.multiply(columns).sum(axis=0)).ravel())
        norms = norms.astype(np.float32)
        keep = min(self.params.neighbours, max(n_items - 1, 1))
        block = max(1, BLOCK_ENTRIES // max(n_items, 1))
        rows, cols, values = [], [], []
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            # Similarity is symmetric, so column block [start, stop) is the rows' transpose.
            dots = (item_users @ columns[:, start:stop]).toarray().T.astype(np.float32)
            denom = np.outer(norms[start:stop], norms) + np.float32(self.params.shrinkage)
            sims = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)
            sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf
            top, top_sims = select_top_k(sims, keep)
            kept = (top >= 0) & (top_sims > 0)
            rows.append(np.broadcast_to(np.arange(start, stop)[:, None], top.shape)[kept])
            cols.append(top[kept])
            values.append(top_sims[kept])
        weights = sp.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items),
            dtype=np.float32,
        )
        weights.sort_indices()
        return weights
