"""EASE (Steck 2019): a closed-form linear item-item model, B = I - P / diag(P).

P = (X^T X + l2 I)^-1 over the user x item matrix X, and the diagonal of B is forced to 0 so
that an item cannot predict itself. It is the strongest simple model on MovieLens, but the
dense item Gram matrix limits it to catalogues of about 20k items.

Usage:
    >>> import numpy as np, scipy.sparse as sp
    >>> user_items = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1]], dtype=np.float32))
    >>> EaseRecommender(EaseParams(l2=1.0)).fit(user_items).item_weight_matrix().shape
    (3, 3)
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from movierec.models.base import (
    CSR_ENTRY_BYTES,
    ItemWeightParams,
    ItemWeightRecommender,
    ModelError,
)
from movierec.models.compute import FitOptions, map_blocks
from movierec.models.params import SearchSpace
from movierec.models.sparse_product import add_product_rows

# > 0: the penalty on the diagonal keeps the Gram matrix invertible.
L2 = Annotated[float, Field(gt=0)]

# Row blocks of the Gram matrix: many, so that the threads stay busy to the end.
GRAM_BLOCKS = 64


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite float32 matrix by Cholesky (LAPACK spotrf
    and spotri): half the work of a general inverse, and single precision is 3.5x faster than
    double at 10M size with weights within 2e-6 and the same top-10s. Overwrites `matrix`."""
    factor, info = scipy.linalg.lapack.spotrf(matrix, lower=False, overwrite_a=True, clean=False)
    if info == 0:
        factor, info = scipy.linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ModelError(
            f"the EASE Gram matrix is not positive definite (LAPACK info {info}); raise l2"
        )
    inverse = np.triu(factor)
    inverse += np.triu(factor, 1).T  # potri fills the upper triangle only
    return inverse


class EaseParams(ItemWeightParams):
    """EASE hyper-parameters; l2 500 is the best point of the default grid on ml-100k.

    Attributes:
        l2: ridge penalty on B; larger values shrink towards popularity-like scores.
        max_items: refuse catalogues larger than this (the float32 Gram is n_items^2 x 4 B).
        weighting: "binary" fits on 0/1 interactions, "confidence" on the matrix values.
        embedding_dim: see `ItemWeightParams`.
    """

    l2: L2 = 500.0
    max_items: int = Field(20000, ge=1)
    weighting: Literal["binary", "confidence"] = "binary"


class EaseSearch(SearchSpace):
    """Searched on validation: the ridge penalty (the spec's "λ from validation")."""

    l2: list[L2] = [250.0, 500.0, 1000.0]


class EaseRecommender(ItemWeightRecommender):
    """Embarrassingly Shallow AutoEncoder (the "item_weights" scorer, dense weights)."""

    kind = "ease"
    params_type = EaseParams
    search_type = EaseSearch

    params: EaseParams

    def memory_needed(self, n_users: int, n_items: int, n_interactions: int) -> int:
        """The float32 Gram matrix, its inverse and a temporary: about 3 x n_items^2 x 4 B."""
        return 3 * n_items**2 * 4 + n_interactions * CSR_ENTRY_BYTES

    def unfit_reason(
        self, n_users: int, n_items: int, n_interactions: int, budget_bytes: int
    ) -> str | None:
        max_items = self.params.max_items
        if n_items > max_items:
            gigabytes = self.memory_needed(n_users, n_items, n_interactions) / 1e9
            return (
                f"EASE needs a dense {n_items} x {n_items} Gram matrix (about {gigabytes:.0f} GB) "
                f"but max_items is {max_items}: filter rare items, raise max_items if the "
                "memory is there, or use the als or item_item model"
            )
        return super().unfit_reason(n_users, n_items, n_interactions, budget_bytes)

    def _fit_weights(self, user_items: sp.csr_matrix, options: FitOptions) -> np.ndarray:
        n_items = user_items.shape[1]
        refusal = self.unfit_reason(user_items.shape[0], n_items, user_items.nnz, 1 << 62)
        if refusal is not None:
            raise ModelError(refusal)
        matrix = user_items
        if self.params.weighting == "binary":
            matrix = user_items.copy()
            matrix.eliminate_zeros()
            matrix.data[:] = 1.0
        # X^T X row block by row block, in place, on the threads of `options`.
        item_users = matrix.T.tocsr()
        gram = np.zeros((n_items, n_items), dtype=np.float32)
        rows_per_block = -(-n_items // GRAM_BLOCKS)
        quiet = FitOptions(options.threads, options.block_bytes)
        for _ in map_blocks(
            lambda start, stop: add_product_rows(item_users, matrix, start, gram[start:stop]),
            n_items,
            rows_per_block,
            quiet,
        ):
            pass
        gram[np.diag_indices(n_items)] += np.float32(self.params.l2)
        options.report(1, 2)
        # BLAS threads as the options say: training gives one on small data, where more
        # threads only contend with each other (measured 2-3x slower on ml-100k on 2 cores).
        with threadpool_limits(options.threads, "blas"):
            precision = _spd_inverse(gram)
        precision /= -np.diag(precision)
        precision[np.diag_indices(n_items)] = 0.0
        options.report(2, 2)
        return precision
