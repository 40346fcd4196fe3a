"""The engine against hand-computed cases: top-k, masks, fallback order, both scorers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from movierec.api import fallback
from movierec.api.errors import InvalidFieldError
from movierec.api.model_loader import load_bundle
from movierec.api.recommender import (
    EmbeddingScorer,
    ItemWeightsScorer,
    Recommender,
    best_k,
    top_k,
)
from movierec.api.schemas import FallbackReason


def test_top_k_picks_the_best_candidates_in_order() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3, 0.8])
    candidates = np.array([True, False, True, True, True, True])
    assert top_k(scores, candidates, 3).tolist() == [5, 3, 2]
    assert top_k(scores, candidates, 10).tolist() == [5, 3, 2, 4, 0]
    assert top_k(scores, np.zeros(6, dtype=bool), 3).tolist() == []


def test_best_k_breaks_ties_by_position_and_never_picks_minus_infinity() -> None:
    values = np.array([0.5, -np.inf, 0.9, 0.5, 0.2, 0.5], dtype=np.float32)
    assert best_k(values, 1).tolist() == [2]
    assert best_k(values, 2).tolist() == [2, 0]
    assert best_k(values, 3).tolist() == [2, 0, 3]  # three tie at 0.5: the first ones win
    assert best_k(values, 5).tolist() == [2, 0, 3, 5, 4]
    assert best_k(values, 9).tolist() == [2, 0, 3, 5, 4, 1]  # k above the length: all, sorted


@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=60),  # small ints: many ties
    st.integers(1, 70),
)
def test_best_k_is_the_head_of_a_stable_descending_sort(values: list[int], k: int) -> None:
    array = np.array(values, dtype=np.float32)
    expected = np.argsort(-array, kind="stable")[:k]
    assert best_k(array, k).tolist() == expected.tolist()


def test_most_popular_respects_the_mask() -> None:
    order = fallback.popularity_order(np.array([5.0, 9.0, 1.0, 9.0, 3.0]))
    assert order.tolist() == [1, 3, 0, 4, 2]
    mask = np.array([True, False, True, True, False])
    assert fallback.most_popular(order, mask, 2).tolist() == [3, 0]
    assert fallback.most_popular(order, None, 3).tolist() == [1, 3, 0]


def test_scorers_compute_their_formulas() -> None:
    users = np.array([[1.0, 2.0], [0.0, 1.0]], dtype=np.float32)
    items = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    assert EmbeddingScorer(users, items).score(0).tolist() == [1.0, 2.0, 3.0]
    user_items = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]], dtype=np.float32))
    weights = sp.csr_matrix(
        np.array([[0.0, 0.5, 0.1], [0.5, 0.0, 0.0], [0.1, 0.2, 0.0]], dtype=np.float32)
    )
    scores = ItemWeightsScorer(user_items, weights).score(0)
    np.testing.assert_allclose(scores, [0.2, 0.9, 0.1])  # [1, 0, 2] @ weights


@pytest.fixture(params=["embeddings", "item_weights"])
def recommender(request: pytest.FixtureRequest, bundles: dict[str, Path]) -> Recommender:
    return Recommender(load_bundle(bundles[request.param]), max_k=100)


def test_known_user_scores_are_the_scorer_formula(recommender: Recommender) -> None:
    model = recommender.model
    row = model.user_rows[4]
    if model.item_weights is None:
        expected = model.item_embeddings @ model.user_embeddings[row]
    else:
        expected = (model.user_items[row] @ model.item_weights).toarray().ravel()
    ranking = recommender.recommend(4, k=5, exclude_seen=False)
    np.testing.assert_allclose(ranking.scores, np.sort(expected)[::-1][:5], rtol=1e-5)


def test_masks_combine_genres_by_or_and_years_by_and(recommender: Recommender) -> None:
    masks = recommender.masks
    years = np.array([item.year for item in recommender.model.items])
    genres = [set(item.genres) for item in recommender.model.items]
    mask = masks.select(["horror", "Comedy"], 1985, 1990, ("body",))
    assert mask is not None
    expected = [
        bool(g & {"Horror", "Comedy"}) and 1985 <= y <= 1990
        for g, y in zip(genres, years, strict=True)
    ]
    assert mask.tolist() == expected
    assert masks.select(None, None, None, ("body",)) is None
    with pytest.raises(InvalidFieldError, match="valid genres: Action, Comedy"):
        masks.select(["Western"], None, None, ("body", "genres"))


def test_k_above_max_k_is_refused(bundles: dict[str, Path]) -> None:
    recommender = Recommender(load_bundle(bundles["embeddings"]), max_k=5)
    with pytest.raises(InvalidFieldError, match="at most 5"):
        recommender.popular(6)


def test_item_weights_fill_with_popular_items_when_few_have_a_score(
    bundles: dict[str, Path],
) -> None:
    """A user whose items have no neighbours gets popular eligible items after the scored ones."""
    model = load_bundle(bundles["item_weights"])
    shape = (model.n_items, model.n_items)
    one_neighbour = sp.csr_matrix(([1.0], ([0], [1])), shape=shape, dtype=np.float32)
    user_items = sp.csr_matrix(([1.0], ([0], [0])), shape=model.user_items.shape)
    recommender = Recommender(
        replace(model, item_weights=one_neighbour, user_items=user_items), max_k=100
    )
    user_id = next(user for user, row in model.user_rows.items() if row == 0)
    ranking = recommender.recommend(user_id, k=4)
    assert ranking.columns[0] == 1
    assert ranking.is_fallback and ranking.fallback_reason == FallbackReason.INSUFFICIENT_CANDIDATES
    popular_rest = [c for c in recommender.popular_order.tolist() if c not in (0, 1)][:3]
    assert ranking.columns[1:].tolist() == popular_rest
