"""Ranking metrics against hand-computed cases, properties, bootstrap and `evaluate_model`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from movierec.training.evaluate import (
    USER_METRICS,
    EvaluationError,
    bootstrap_intervals,
    coverage,
    evaluate_model,
    relevance,
    summarise,
    user_metrics,
)

N_ITEMS = 10
# User 0 ranks [5, 2, 7, 1] and holds out {1, 2, 9}: hits at ranks 2 and 4.
# User 1 ranks [3] (then padding) and holds out {4}: no hit.
# User 2 ranks [0, 1, 2, 3] and holds out {0}: a hit at rank 1.
RECOMMENDED = np.array([[5, 2, 7, 1], [3, -1, -1, -1], [0, 1, 2, 3]])
HELDOUT = sp.csr_matrix(
    (np.ones(5), ([0, 0, 0, 1, 2], [1, 2, 9, 4, 0])), shape=(3, N_ITEMS), dtype=np.float32
)
LOG2_3 = math.log2(3)
LOG2_5 = math.log2(5)


def test_relevance_marks_held_out_items_and_ignores_padding() -> None:
    assert relevance(RECOMMENDED, HELDOUT).tolist() == [
        [False, True, False, True],
        [False, False, False, False],
        [True, False, False, False],
    ]


def test_metrics_at_4_by_hand() -> None:
    hits = relevance(RECOMMENDED, HELDOUT)
    got = user_metrics(hits, np.array([3, 1, 1]), k=4)
    # precision: 2 hits / 4, 0 / 4, 1 / 4
    np.testing.assert_allclose(got["precision"], [0.5, 0.0, 0.25])
    # recall: 2 of 3 held out, 0 of 1, 1 of 1
    np.testing.assert_allclose(got["recall"], [2 / 3, 0.0, 1.0])
    # user 0: DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161;
    #         ideal over min(4, 3) = 3 ranks = 1 + 1/log2(3) + 1/log2(4) = 2.13093; ratio 0.49819
    # user 2: DCG = 1/log2(2) = 1 = ideal over min(4, 1) = 1 rank
    ndcg_0 = (1 / LOG2_3 + 1 / LOG2_5) / (1 + 1 / LOG2_3 + 0.5)
    assert ndcg_0 == pytest.approx(0.49819, abs=1e-5)
    np.testing.assert_allclose(got["ndcg"], [ndcg_0, 0.0, 1.0])
    # AP user 0: (P@2 = 1/2 + P@4 = 2/4) / min(4, 3) = 1/3; user 2: P@1 = 1 / 1 = 1
    np.testing.assert_allclose(got["map"], [1 / 3, 0.0, 1.0])
    np.testing.assert_allclose(got["hit_rate"], [1.0, 0.0, 1.0])
    # first hit at rank 2, none, rank 1
    np.testing.assert_allclose(got["mrr"], [0.5, 0.0, 1.0])


def test_metrics_at_2_by_hand() -> None:
    hits = relevance(RECOMMENDED, HELDOUT)
    got = user_metrics(hits, np.array([3, 1, 1]), k=2)
    # top-2: user 0 [5, 2] -> one hit at rank 2; user 2 [0, 1] -> one hit at rank 1
    np.testing.assert_allclose(got["precision"], [0.5, 0.0, 0.5])
    np.testing.assert_allclose(got["recall"], [1 / 3, 0.0, 1.0])
    # user 0: DCG = 1/log2(3) = 0.63093; ideal over min(2, 3) = 2 = 1 + 0.63093; ratio 0.38685
    np.testing.assert_allclose(got["ndcg"], [(1 / LOG2_3) / (1 + 1 / LOG2_3), 0.0, 1.0])
    assert got["ndcg"][0] == pytest.approx(0.38685, abs=1e-5)
    # AP user 0: P@2 = 1/2, normalised by min(2, 3) = 2 -> 0.25
    np.testing.assert_allclose(got["map"], [0.25, 0.0, 1.0])
    np.testing.assert_allclose(got["mrr"], [0.5, 0.0, 1.0])


def test_coverage_by_hand() -> None:
    # top-4: {5, 2, 7, 1, 3, 0} = 6 of 10 items; top-2: {5, 2, 3, 0, 1} = 5 of 10
    assert coverage(RECOMMENDED, 4, N_ITEMS) == pytest.approx(0.6)
    assert coverage(RECOMMENDED, 2, N_ITEMS) == pytest.approx(0.5)


def test_summarise_averages_users_and_names_keys() -> None:
    summary = summarise(RECOMMENDED, HELDOUT, [2, 4], bootstrap_samples=0, seed=0)
    # mean NDCG@4 = (0.49819 + 0 + 1) / 3
    assert summary["ndcg@4"].mean == pytest.approx((0.498189 + 1.0) / 3, abs=1e-6)
    # mean P@2 = (0.5 + 0 + 0.5) / 3
    assert summary["precision@2"].mean == pytest.approx(1 / 3)
    assert summary["coverage@4"].mean == pytest.approx(0.6)
    assert set(summary) == {f"{m}@{k}" for m in (*USER_METRICS, "coverage") for k in (2, 4)}


def test_too_few_recommendations_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="at least 5"):
        user_metrics(np.zeros((1, 4), dtype=bool), np.array([1]), k=5)


@st.composite
def ranking_case(draw: st.DrawFn) -> tuple[np.ndarray, sp.csr_matrix, int]:
    n_items = draw(st.integers(2, 30))
    n_users = draw(st.integers(1, 8))
    k = draw(st.integers(1, n_items))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    recommended = np.vstack([rng.permutation(n_items)[:k] for _ in range(n_users)])
    dense = rng.random((n_users, n_items)) < draw(st.floats(0.05, 0.9))
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    return recommended, sp.csr_matrix(dense.astype(np.float32)), k


@settings(max_examples=150, deadline=None)
@given(ranking_case())
def test_every_metric_lies_in_unit_interval(case: tuple[np.ndarray, sp.csr_matrix, int]) -> None:
    recommended, heldout, k = case
    got = user_metrics(relevance(recommended, heldout), np.diff(heldout.indptr), k)
    for name, values in got.items():
        assert np.all((values >= 0) & (values <= 1 + 1e-12)), name


@settings(max_examples=150, deadline=None)
@given(ranking_case())
def test_perfect_ranking_scores_one(case: tuple[np.ndarray, sp.csr_matrix, int]) -> None:
    _, heldout, k = case
    n_items = heldout.shape[1]
    dense = heldout.toarray() > 0
    # relevant items first (stable argsort on "not relevant"), then the rest
    perfect = np.argsort(~dense, axis=1, kind="stable")[:, :k]
    n_rel = dense.sum(axis=1)
    got = user_metrics(relevance(perfect, heldout), n_rel, k)
    for name in ("ndcg", "map", "hit_rate", "mrr"):
        np.testing.assert_allclose(got[name], 1.0, err_msg=name)
    np.testing.assert_allclose(got["precision"], np.minimum(n_rel, k) / k)
    np.testing.assert_allclose(got["recall"], np.minimum(n_rel, k) / n_rel)
    assert n_items >= k


def test_bootstrap_interval_contains_mean_and_narrows_with_more_users() -> None:
    rng = np.random.default_rng(0)
    widths = []
    for n_users in (100, 10_000):
        values = rng.random((2, n_users))
        low, high = bootstrap_intervals(values, samples=500, seed=1)
        means = values.mean(axis=1)
        assert np.all(low < means) and np.all(means < high)
        widths.append(high - low)
    assert np.all(widths[1] < widths[0] / 5)  # ~ 1/sqrt(100) of the width


def test_bootstrap_is_seeded_and_zero_samples_gives_the_mean() -> None:
    values = np.random.default_rng(3).random((1, 50))
    first = bootstrap_intervals(values, samples=200, seed=9)
    second = bootstrap_intervals(values, samples=200, seed=9)
    np.testing.assert_array_equal(first[0], second[0])
    low, high = bootstrap_intervals(values, samples=0, seed=9)
    assert low[0] == high[0] == pytest.approx(values.mean())


class RanksByIndex:
    """A fake model ranking items by ascending index, skipping each user's seen items."""

    def recommend(
        self, userids: np.ndarray, user_items: sp.csr_matrix, k: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        n_items = user_items.shape[1]
        scores = np.tile(-np.arange(n_items, dtype=np.float64), (len(userids), 1))
        if exclude_seen:
            rows, cols = user_items.nonzero()
            scores[rows, cols] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        seen = np.take_along_axis(scores, order, axis=1) == -np.inf
        return np.where(seen, -1, order), np.zeros(order.shape)


def test_evaluate_model_separates_warm_and_cold_users_and_excludes_train_items() -> None:
    # users: 0 warm (train {0}, held out {1}), 1 warm (train {2}, held out {0}),
    #        2 cold (no train, held out {0}), 3 train only (not evaluated)
    train = sp.csr_matrix((np.ones(3), ([0, 1, 3], [0, 2, 1])), shape=(4, 5), dtype=np.float32)
    heldout = sp.csr_matrix((np.ones(3), ([0, 1, 2], [1, 0, 0])), shape=(4, 5), dtype=np.float32)
    result = evaluate_model(
        RanksByIndex(), train, heldout, [1, 2], fallback=RanksByIndex(), bootstrap_samples=20
    )
    assert result.n_users == 2
    # user 0: item 0 excluded -> [1, 2]: hit at rank 1; user 1: [0, 1]: hit at rank 1
    assert result.mean("ndcg@1") == pytest.approx(1.0)
    assert result.mean("precision@2") == pytest.approx(0.5)
    assert result.n_cold_users == 1
    assert result.cold_metrics["hit_rate@1"].mean == pytest.approx(1.0)
    payload = result.to_dict()
    assert payload["users_evaluated"] == 2
    assert payload["cold_users"]["users_evaluated"] == 1
    with pytest.raises(EvaluationError, match="ndcg@10"):
        result.mean("ndcg@10")


def test_evaluate_model_refuses_mismatched_matrices() -> None:
    with pytest.raises(EvaluationError, match="same user and item mappings"):
        evaluate_model(RanksByIndex(), sp.csr_matrix((2, 3)), sp.csr_matrix((2, 4)), [1])
