"""Scorers against their formulas; the fold-in solve against a hand-computed case and
against the `implicit` library's own recalculation of a user."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from movierec.serving.scorers import EmbeddingScorer, FoldIn, History, ItemWeightsScorer

ITEMS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)


def test_known_users_are_scored_by_the_formulas() -> None:
    users = np.array([[1.0, 2.0], [0.0, 1.0]], dtype=np.float32)
    assert EmbeddingScorer(users, ITEMS).score(0).tolist() == [1.0, 2.0, 3.0]
    user_items = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]], dtype=np.float32))
    weights = sp.csr_matrix(
        np.array([[0.0, 0.5, 0.1], [0.5, 0.0, 0.0], [0.1, 0.2, 0.0]], dtype=np.float32)
    )
    scorer = ItemWeightsScorer(user_items, weights)
    np.testing.assert_allclose(scorer.score(0), [0.2, 0.9, 0.1])  # [1, 0, 2] @ weights
    history = History(np.array([1, 2]), np.array([3.0, 1.0], dtype=np.float32))
    np.testing.assert_allclose(scorer.score_history(history), [1.6, 0.2, 0.0])  # [0, 3, 1] @ W


def test_fold_in_solves_the_hand_computed_normal_equations() -> None:
    """Y = ITEMS, history {0: 2, 2: 1}, alpha 1, lambda 0.5:
    YᵀY = [[2, 1], [1, 2]], Yᵤᵀ(Cᵤ - I)Yᵤ = [[1, 0], [0, 0]], so A = [[3.5, 1], [1, 2.5]];
    b = Yᵤᵀ Cᵤ 1 = 2 [1, 0] + 1 [1, 1] = [3, 1]; x = A⁻¹ b = [26, 2] / 31."""
    scorer = EmbeddingScorer(np.zeros((1, 2), np.float32), ITEMS, FoldIn(0.5, 1.0))
    history = History(np.array([0, 2]), np.array([2.0, 1.0]))
    np.testing.assert_allclose(scorer.user_vector(history), [26 / 31, 2 / 31], rtol=1e-6)
    np.testing.assert_allclose(scorer.score_history(history), [26 / 31, 2 / 31, 28 / 31], rtol=1e-6)


def test_a_negative_weight_is_confidence_without_preference() -> None:
    """History {0: 2, 1: -3}: C = diag(2, 3), p = (1, 0): A = [[3.5, 1], [1, 4.5]], b = [2, 0],
    x = [9, -2] / 14.75 = [36, -8] / 59."""
    scorer = EmbeddingScorer(np.zeros((1, 2), np.float32), ITEMS, FoldIn(0.5, 1.0))
    history = History(np.array([0, 1]), np.array([2.0, -3.0]))
    np.testing.assert_allclose(scorer.user_vector(history), [36 / 59, -8 / 59], rtol=1e-6)


def test_alpha_scales_the_confidences() -> None:
    scaled = EmbeddingScorer(np.zeros((1, 2), np.float32), ITEMS, FoldIn(0.5, 2.0))
    plain = EmbeddingScorer(np.zeros((1, 2), np.float32), ITEMS, FoldIn(0.5, 1.0))
    history = History(np.array([0, 2]), np.array([1.0, 0.5]))
    doubled = History(history.columns, history.weights * 2)
    np.testing.assert_allclose(scaled.user_vector(history), plain.user_vector(doubled))


def test_fold_in_parameters_come_from_the_hyperparameters() -> None:
    assert FoldIn.of({"regularization": 20.0, "alpha": 0.5, "factors": 32}) == FoldIn(20.0, 0.5)
    assert FoldIn.of({"neighbours": 100}) == FoldIn()


@pytest.mark.parametrize(("regularization", "alpha"), [(0.1, 1.0), (5.0, 3.0)])
def test_fold_in_matches_implicits_recalculate_user(regularization: float, alpha: float) -> None:
    rng = np.random.default_rng(3)
    dense = (rng.random((30, 25)) < 0.25) * rng.integers(1, 6, (30, 25))
    user_items = sp.csr_matrix(dense.astype(np.float32))
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=6, regularization=regularization, alpha=alpha, iterations=5, random_state=0
        )
        model.fit(user_items, show_progress=False)
    scorer = EmbeddingScorer(
        np.asarray(model.user_factors),
        np.asarray(model.item_factors),
        FoldIn(regularization, alpha),
    )
    for user in range(5):
        row = user_items[user]
        expected = model.recalculate_user(user, row)
        folded = scorer.user_vector(History(row.indices, row.data))
        np.testing.assert_allclose(folded, expected, rtol=1e-4, atol=1e-5)
