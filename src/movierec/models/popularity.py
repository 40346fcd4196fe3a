"""Most-popular baseline: every user gets the same ranking, by interactions per item.

It is the floor every personalised model must beat, and the cold-start fallback.

Usage:
    >>> import numpy as np, scipy.sparse as sp
    >>> user_items = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 0]], dtype=np.float32))
    >>> PopularityRecommender().fit(user_items).recommend(np.array([1]), user_items[[1]], k=2)[0]
    array([[0, 2]])
"""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
import scipy.sparse as sp

from movierec.models.base import (
    ModelError,
    NotFittedError,
    Recommender,
    as_user_items,
)
from movierec.models.compute import FitOptions
from movierec.models.params import ModelParams


class PopularityParams(ModelParams):
    """Popularity hyper-parameters (nothing to search: the baseline is what it is).

    Attributes:
        weighting: "count" counts the stored entries per item; "confidence" sums their values.
    """

    weighting: Literal["count", "confidence"] = "count"


class PopularityRecommender(Recommender):
    """Scores an item by its number of interactions, or by their summed confidence."""

    kind = "popularity"
    scorer = "popularity"
    params_type = PopularityParams

    params: PopularityParams

    def __init__(self, params: PopularityParams | None = None) -> None:
        super().__init__(params)
        self.item_scores: np.ndarray | None = None

    def fit(self, user_items: sp.csr_matrix, options: FitOptions | None = None) -> Self:
        matrix = as_user_items(user_items)
        if self.params.weighting == "count":
            counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
        else:
            counts = np.asarray(matrix.sum(axis=0)).ravel()
        self.item_scores = counts.astype(np.float32)
        self._n_items = matrix.shape[1]
        return self

    def memory_needed(self, n_users: int, n_items: int, n_interactions: int) -> int:
        return n_items * 8

    def _popularity(self) -> np.ndarray:
        if self.item_scores is None:
            raise NotFittedError(self.kind)
        return self.item_scores

    def _score(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return np.tile(self._popularity(), (len(userids), 1))

    def item_vectors(self) -> np.ndarray:
        raise ModelError(
            "the popularity model has no item embeddings; export a collaborative model "
            "(als, item_item or ease) for the similarity index"
        )

    def user_vectors(self, user_items: sp.csr_matrix) -> np.ndarray:
        raise ModelError(
            "the popularity model has no user embeddings; it ranks every user the same way"
        )

    def _state(self) -> dict[str, np.ndarray]:
        return {"item_scores": self._popularity()}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.item_scores = state["item_scores"].astype(np.float32)
