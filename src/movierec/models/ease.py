"""EASE (Steck 2019): a closed-form linear item-item model, B = I - P / diag(P).

P = (X^T X + l2 I)^-1 over the user x item matrix X, and the diagonal of B is forced to 0 so
that an item cannot predict itself. It is the strongest simple model on MovieLens, but the
dense item Gram matrix limits it to catalogues of about 20k items.

Usage:
    >>> import numpy as np, scipy.sparse as sp
    >>> user_items = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1]], dtype=np.float32))
    >>> EaseRecommender(l2=1.0).fit(user_items).item_weight_matrix().shape
    (3, 3)
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from movierec.models.base import ItemWeightRecommender, ModelError

EaseWeighting = Literal["binary", "confidence"]


class EaseRecommender(ItemWeightRecommender):
    """Embarrassingly Shallow AutoEncoder (the "item_weights" scorer, dense weights).

    Args:
        l2: ridge penalty on B; larger values shrink towards popularity-like scores.
        max_items: refuse catalogues larger than this (the float64 Gram is n_items^2 x 8 B).
        weighting: "binary" fits on 0/1 interactions, "confidence" on the matrix values.
        embedding_dim: size of the SVD item embeddings used by the similarity index.
    """

    kind = "ease"

    def __init__(
        self,
        l2: float = 250.0,
        max_items: int = 20000,
        weighting: EaseWeighting = "binary",
        embedding_dim: int = 64,
    ) -> None:
        super().__init__(embedding_dim)
        if l2 <= 0:
            raise ModelError(f"l2 must be > 0 (it keeps the Gram matrix invertible), got {l2}")
        if weighting not in ("binary", "confidence"):
            raise ModelError(f"weighting must be 'binary' or 'confidence', got {weighting!r}")
        self.l2 = l2
        self.max_items = max_items
        self.weighting: EaseWeighting = weighting

    def _fit_weights(self, user_items: sp.csr_matrix) -> np.ndarray:
        n_items = user_items.shape[1]
        if n_items > self.max_items:
            gigabytes = 3 * n_items**2 * 8 / 1e9
            raise ModelError(
                f"EASE needs a dense {n_items} x {n_items} Gram matrix (about {gigabytes:.0f} GB) "
                f"but max_items is {self.max_items}: filter rare items, raise max_items if the "
                "memory is there, or use the als or item_item model"
            )
        matrix = user_items
        if self.weighting == "binary":
            matrix = user_items.copy()
            matrix.eliminate_zeros()
            matrix.data[:] = 1.0
        gram = (matrix.T @ matrix).toarray().astype(np.float64)
        gram[np.diag_indices(n_items)] += self.l2
        # One BLAS thread: on the 2-core target, threads contend with the rest of the pipeline
        # (measured 2-3x slower on ml-100k with OpenBLAS's default of one thread per core).
        with threadpool_limits(1, "blas"):
            precision = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = precision / -np.diag(precision)
        weights[np.diag_indices(n_items)] = 0.0
        return weights.astype(np.float32)

    def get_params(self) -> dict[str, Any]:
        return {
            "l2": self.l2,
            "max_items": self.max_items,
            "weighting": self.weighting,
            "embedding_dim": self.embedding_dim,
        }
