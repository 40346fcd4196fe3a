"""EASE: the closed form against a per-column constrained ridge regression."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from movierec.models import EaseParams, EaseRecommender, ModelError, Recommender
from tests.models.contract import RecommenderContract

HAND = np.array(
    [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 1, 0], [0, 0, 1, 1]], dtype=np.float64
)


class TestEase(RecommenderContract):
    def make_model(self) -> Recommender:
        return EaseRecommender(EaseParams(l2=50.0, embedding_dim=32))


def ridge_without_self(matrix: np.ndarray, l2: float) -> np.ndarray:
    """Column j of B: ridge regression of item j on every other item (b_jj = 0 by construction)."""
    n_items = matrix.shape[1]
    weights = np.zeros((n_items, n_items))
    for j in range(n_items):
        others = [i for i in range(n_items) if i != j]
        x = matrix[:, others]
        weights[others, j] = np.linalg.solve(x.T @ x + l2 * np.eye(len(others)), x.T @ matrix[:, j])
    return weights


@pytest.mark.parametrize("l2", [0.5, 3.0])
def test_closed_form_equals_constrained_regression(l2: float) -> None:
    model = EaseRecommender(EaseParams(l2=l2)).fit(sp.csr_matrix(HAND, dtype=np.float32))
    np.testing.assert_allclose(
        model.item_weight_matrix().toarray(), ridge_without_self(HAND, l2), atol=1e-6
    )


def test_binary_ignores_rating_values_and_confidence_does_not() -> None:
    ratings = sp.csr_matrix(HAND * np.array([5, 1, 3, 2]), dtype=np.float32)
    binary = EaseRecommender(EaseParams(l2=1.0)).fit(ratings).item_weight_matrix().toarray()
    np.testing.assert_allclose(binary, ridge_without_self(HAND, 1.0), atol=1e-6)
    confidence = EaseRecommender(EaseParams(l2=1.0, weighting="confidence")).fit(ratings)
    np.testing.assert_allclose(
        confidence.item_weight_matrix().toarray(),
        ridge_without_self(ratings.toarray().astype(np.float64), 1.0),
        atol=1e-5,
    )


def test_weights_are_exported_whole() -> None:
    model = EaseRecommender(EaseParams(l2=1.0)).fit(sp.csr_matrix(HAND, dtype=np.float32))
    weights = model.item_weight_matrix()
    assert weights.nnz == np.count_nonzero(ridge_without_self(HAND, 1.0))
    assert weights.dtype == np.float32


def test_refuses_more_items_than_max_items() -> None:
    with pytest.raises(ModelError, match=r"max_items is 3.*als or item_item"):
        EaseRecommender(EaseParams(max_items=3)).fit(sp.csr_matrix(HAND, dtype=np.float32))


def test_l2_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="l2"):
        EaseParams(l2=0.0)
