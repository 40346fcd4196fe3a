"""Implicit-feedback matrix factorisation (Hu, Koren, Volinsky 2008) with `implicit`'s ALS.

Confidences are optionally re-weighted first (`weighting`: "bm25" damps heavy users and
popular items), then factorised; a user's score for an item is the dot product of their
factors. Training runs with BLAS limited to one thread: implicit parallelises itself, and a
multi-threaded BLAS underneath makes it up to 10x slower.

Usage:
    >>> import numpy as np, scipy.sparse as sp
    >>> user_items = sp.random(20, 30, density=0.3, format="csr", dtype=np.float32)
    >>> model = AlsRecommender(AlsParams(factors=8, iterations=5)).fit(user_items)
    >>> model.item_vectors().shape
    (30, 8)
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from movierec.models.base import (
    CSR_ENTRY_BYTES,
    ModelError,
    NotFittedError,
    Recommender,
    as_user_items,
)
from movierec.models.compute import FitOptions
from movierec.models.params import ModelParams, SearchSpace

AlsWeighting = Literal["bm25", "confidence", "none"]
Factors = Annotated[int, Field(ge=1)]
Regularization = Annotated[float, Field(ge=0)]
Alpha = Annotated[float, Field(gt=0)]


class AlsParams(ModelParams):
    """ALS hyper-parameters, tuned on ml-100k.

    Confidence weighting (alpha times the data's confidence, 1 + rating) with a strong
    regularisation beats bm25 by about 0.1 NDCG@10 under the stratified_random protocol;
    implicit's usual regularisation of 0.01 does far worse.

    Attributes:
        factors: embedding size.
        regularization: L2 penalty on the factors.
        iterations: ALS sweeps.
        alpha: multiplier of the (weighted) confidences.
        weighting: "confidence" (the matrix values as they are), "bm25" (implicit's
            bm25_weight with `bm25_k1` and `bm25_b`) or "none" (binary).
        bm25_k1, bm25_b: BM25 saturation and length normalisation, for "bm25" only.
        seed: random state of the factor initialisation.

    The threads implicit runs on are not a parameter: they come from `FitOptions` (training
    chooses them by data size, `training.threads`).
    """

    factors: Factors = 32
    regularization: Regularization = 20.0
    iterations: int = Field(10, ge=1)
    alpha: Alpha = 0.5
    weighting: AlsWeighting = "confidence"
    bm25_k1: float = Field(1.2, gt=0)
    bm25_b: float = Field(0.5, ge=0, le=1)
    seed: int = 42


class AlsSearch(SearchSpace):
    """Searched on validation: embedding size and regularisation (alpha, weighting if set)."""

    factors: list[Factors] = [32, 64]
    regularization: list[Regularization] = [10.0, 20.0]
    alpha: list[Alpha] = []
    weighting: list[AlsWeighting] = []


class AlsRecommender(Recommender):
    """Weighted ALS on the user x item matrix (the "embeddings" scorer)."""

    kind = "als"
    scorer = "embeddings"
    params_type = AlsParams
    search_type = AlsSearch

    params: AlsParams

    def __init__(self, params: AlsParams | None = None) -> None:
        super().__init__(params)
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None

    def weigh(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        """The confidence matrix ALS is trained on, after `weighting`."""
        params = self.params
        if params.weighting == "bm25":
            from implicit.nearest_neighbours import bm25_weight  # on use, as in `fit`

            # bm25_weight weighs rows as documents: items here, as in implicit's examples.
            item_users = bm25_weight(user_items.T, K1=params.bm25_k1, B=params.bm25_b)
            return sp.csr_matrix(item_users.T, dtype=np.float32)
        if params.weighting == "none":
            binary = user_items.copy()
            binary.eliminate_zeros()
            binary.data[:] = 1.0
            return binary
        return user_items

    def memory_needed(self, n_users: int, n_items: int, n_interactions: int) -> int:
        """The weighted and scaled copies of the matrix, its transpose and the factors."""
        copies = 3 if self.params.weighting == "bm25" else 2
        factors = 2 * (n_users + n_items) * self.params.factors * 4
        return copies * n_interactions * CSR_ENTRY_BYTES + factors

    def fit(self, user_items: sp.csr_matrix, options: FitOptions | None = None) -> Self:
        # Imported on use: settings import this module for AlsParams, and processes that only
        # serve or show (API, frontend) should not load implicit's OpenMP extension.
        from implicit.cpu.als import AlternatingLeastSquares

        options = options or FitOptions()
        matrix = as_user_items(user_items)
        params = self.params

        def sweep_done(iteration: int, *_: object) -> None:
            options.report(iteration + 1, params.iterations)

        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=params.factors,
                regularization=params.regularization,
                alpha=params.alpha,
                iterations=params.iterations,
                random_state=params.seed,
                num_threads=options.threads,
            )
            model.fit(self.weigh(matrix), show_progress=False, callback=sweep_done)
        self.user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self._n_items = matrix.shape[1]
        return self

    @classmethod
    def from_factors(
        cls, params: AlsParams, user_factors: np.ndarray, item_factors: np.ndarray
    ) -> Self:
        """A fitted model from factors learned elsewhere (the Spark engine), rows in the
        order of the training matrix's users and items."""
        if user_factors.shape[1] != item_factors.shape[1]:
            raise ModelError(
                f"user factors have {user_factors.shape[1]} columns but item factors "
                f"{item_factors.shape[1]}; both sides need the same rank"
            )
        model = cls(params)
        model._restore({"user_factors": user_factors, "item_factors": item_factors})
        model._n_items = len(item_factors)
        return model

    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        if self.user_factors is None or self.item_factors is None:
            raise NotFittedError(self.kind)
        return self.user_factors, self.item_factors

    def _score(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        user_factors, item_factors = self._factors()
        if len(userids) and (userids.min() < 0 or userids.max() >= len(user_factors)):
            raise ModelError(
                f"user ids must lie in [0, {len(user_factors)}): ALS only scores users it was "
                "trained on; send unknown users to the popularity fallback"
            )
        scores: np.ndarray = user_factors[userids] @ item_factors.T
        return scores.astype(np.float32, copy=False)

    def item_vectors(self) -> np.ndarray:
        return self._factors()[1]

    def user_vectors(self, user_items: sp.csr_matrix) -> np.ndarray:
        """The learned user factors; `user_items` must be the matrix the model was fitted on."""
        user_factors = self._factors()[0]
        if user_items.shape[0] != len(user_factors):
            raise ModelError(
                f"user_items has {user_items.shape[0]} rows but ALS learned "
                f"{len(user_factors)} users; pass the training matrix"
            )
        return user_factors

    def _state(self) -> dict[str, np.ndarray]:
        user_factors, item_factors = self._factors()
        return {"user_factors": user_factors, "item_factors": item_factors}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors = state["user_factors"].astype(np.float32)
        self.item_factors = state["item_factors"].astype(np.float32)
