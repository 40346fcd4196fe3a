"""The paired gate: per-user differences bootstrapped over the same users, hand-checked."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.training.evaluate import evaluate_model
from movierec.training.gate import PairedDifference, decide, paired_difference


class FixedRanking:
    """Recommends the same item order to every user (seen items are not removed)."""

    def __init__(self, order: list[int]) -> None:
        self.order = np.array(order)

    def recommend(
        self, userids: np.ndarray, user_items: sp.csr_matrix, k: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        indices = np.tile(self.order[:k], (len(userids), 1))
        return indices, np.ones(indices.shape)


def test_per_user_ndcg_difference_matches_the_hand_computed_case() -> None:
    # Three users, each with one train item (item 3) and one held-out item.
    train = sp.csr_matrix(np.array([[0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1.0]]))
    heldout = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0.0]]))
    candidate, popularity = FixedRanking([0, 1, 2]), FixedRanking([2, 1, 0])

    def per_user(model: FixedRanking) -> np.ndarray:
        result = evaluate_model(
            model, train, heldout, [3], bootstrap_samples=0, keep_per_user="ndcg@3"
        )
        assert result.per_user is not None
        return result.per_user

    # NDCG@3 with one relevant item is 1/log2(rank + 1): ranks 1, 2, 3 -> 1, 0.6309, 0.5.
    third = 1 / np.log2(3)
    np.testing.assert_allclose(per_user(candidate), [1.0, third, 0.5])
    np.testing.assert_allclose(per_user(popularity), [0.5, third, 1.0])
    exact = paired_difference(per_user(candidate), per_user(popularity), samples=0, seed=0)
    assert (exact.mean, exact.n_users) == (pytest.approx(0.0), 3)


def test_bootstrap_interval_of_two_users_spans_their_differences() -> None:
    # Differences 0 and 1: a resample's mean is 0, 0.5 or 1 (p = 1/4, 1/2, 1/4), so the 95%
    # percentile interval is [0, 1] around the mean 0.5.
    difference = paired_difference(np.array([0.0, 1.0]), np.zeros(2), samples=4000, seed=1)
    assert (difference.mean, difference.ci_low, difference.ci_high) == (0.5, 0.0, 1.0)
    # The same difference for every user leaves no doubt: the interval is that value.
    same = paired_difference(np.full(50, 0.3), np.full(50, 0.1), samples=500, seed=1)
    assert same.ci_low == pytest.approx(0.2) and same.ci_high == pytest.approx(0.2)


def test_paired_scores_must_cover_the_same_users() -> None:
    with pytest.raises(ValueError, match="same users"):
        paired_difference(np.zeros(3), np.zeros(4), samples=10, seed=0)


def diff(low: float, mean: float = 0.05, n: int = 21) -> PairedDifference:
    return PairedDifference(mean, low, mean + 0.07, n)


def test_lower_bound_not_above_zero_against_popularity_is_refused() -> None:
    # The case of the issue: +0.048 [-0.035, 0.121] on 21 users is not evidence.
    decision = decide(
        "ndcg@10",
        PairedDifference(0.048, -0.035, 0.121, 21),
        None,
        -0.01,
        "production " "version 3 records no recipe",
    )
    assert not decision.promote
    assert "+0.0480 [-0.0350, +0.1210] over 21 users" in decision.reason
    assert "does not beat popularity" in decision.reason


def test_first_model_that_beats_popularity_is_promoted() -> None:
    decision = decide("ndcg@10", diff(0.01), None, -0.01)
    assert decision.promote and "no production version yet" in decision.reason


def test_a_first_model_is_promoted_on_its_mean_when_the_bound_is_inconclusive() -> None:
    inconclusive = decide("ndcg@10", PairedDifference(0.024, -0.017, 0.065, 81), None, -0.01)
    assert inconclusive.promote
    assert "no production version exists yet" in inconclusive.reason
    assert "+0.0240 [-0.0170, +0.0650] over 81 users" in inconclusive.reason
    worse = decide("ndcg@10", PairedDifference(-0.01, -0.05, 0.03, 81), None, -0.01)
    assert not worse.promote


def test_champion_comparison_uses_the_tolerance() -> None:
    worse = decide("ndcg@10", diff(0.01), diff(-0.02, mean=0.0), -0.01, champion="3")
    assert not worse.promote
    assert "worse than production version 3" in worse.reason
    assert "-0.0200" in worse.reason and "over 21 users" in worse.reason
    level = decide("ndcg@10", diff(0.01), diff(-0.005, mean=0.0), -0.01, champion="3")
    assert level.promote and "above the tolerance -0.0100" in level.reason


def test_no_users_to_compare_is_refused() -> None:
    empty = paired_difference(np.zeros(0), np.zeros(0), samples=10, seed=0)
    assert not decide("ndcg@10", empty, None, -0.01).promote
