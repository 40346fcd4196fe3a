"""The engine against hand-computed cases: both scorers, fallbacks, domain errors, histories."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.serving.engine import Engine
from movierec.serving.errors import InvalidQueryError, UnknownMovieError
from movierec.serving.fallback import FallbackReason, most_popular, popularity_order
from movierec.serving.loader import load_bundle
from movierec.serving.profiles import Profile
from movierec.serving.scorers import History

NONE = np.zeros(0, dtype=np.int64)


def test_most_popular_respects_the_mask() -> None:
    order = popularity_order(np.array([5.0, 9.0, 1.0, 9.0, 3.0]))
    assert order.tolist() == [1, 3, 0, 4, 2]
    mask = np.array([True, False, True, True, False])
    assert most_popular(order, mask, 2).tolist() == [3, 0]
    assert most_popular(order, None, 3).tolist() == [1, 3, 0]


@pytest.fixture(params=["embeddings", "item_weights"])
def engine(request: pytest.FixtureRequest, bundles: dict[str, Path]) -> Engine:
    return Engine(load_bundle(bundles[request.param]), max_k=100)


def test_known_user_scores_are_the_scorer_formula(engine: Engine) -> None:
    model = engine.model
    row = model.user_rows[4]
    if model.item_weights is None:
        expected = model.item_embeddings @ model.user_embeddings[row]
    else:
        expected = (model.user_items[row] @ model.item_weights).toarray().ravel()
    ranking = engine.recommend(4, k=5, exclude_seen=False)
    np.testing.assert_allclose(ranking.scores, np.sort(expected)[::-1][:5], rtol=1e-5)
    assert not ranking.is_fallback and ranking.fallback_reason is None


def test_an_unknown_user_gets_popular_items_that_match_the_filters(engine: Engine) -> None:
    ranking = engine.recommend(10**9, k=5, genres=["Horror"])
    horror = engine.filters.genre("Horror", ("genre",))
    assert ranking.is_fallback and ranking.fallback_reason == FallbackReason.UNKNOWN_USER
    assert ranking.columns.tolist() == most_popular(engine.popular_order, horror, 5).tolist()
    np.testing.assert_array_equal(ranking.scores, engine.model.popularity[ranking.columns])


def test_fields_the_model_cannot_take_are_named_by_their_domain_path(engine: Engine) -> None:
    small = Engine(engine.model, max_k=5)
    for query in (
        lambda: small.popular(6),
        lambda: small.recommend(1, 6),
        lambda: small.similar(1, 6),
    ):
        with pytest.raises(InvalidQueryError, match="at most 5") as error:
            query()
        assert error.value.field == ("k",) and error.value.value == 6
    with pytest.raises(InvalidQueryError) as error:
        engine.recommend(1, 5, genres=["Horror", "Western"])
    assert error.value.field == ("filters", "genres", 1)
    with pytest.raises(InvalidQueryError) as error:
        engine.popular(5, "Western")
    assert error.value.field == ("genre",)


def test_an_unknown_movie_is_a_domain_error(engine: Engine) -> None:
    with pytest.raises(UnknownMovieError, match="movie_id 5000 is not in the catalogue") as error:
        engine.similar(5000, 5)
    assert error.value.movie_id == 5000
    with pytest.raises(UnknownMovieError):
        engine.column(5000)


def test_similar_reads_the_table_and_says_why(engine: Engine) -> None:
    model = engine.model
    column = model.item_columns[10]
    found = engine.similar(10, 5)
    table = model.similar_items
    assert found.seed.movie_id == 10
    assert found.columns.tolist() == table.columns[column, :5].tolist()
    assert found.shared == table.shared[column, :5].tolist()
    assert found.audience == table.audience[column]
    seed_genres = set(model.items[column].genres)
    for other, genres in zip(found.columns.tolist(), found.shared_genres, strict=True):
        assert genres == [g for g in model.items[other].genres if g in seed_genres]


def test_item_weights_fill_with_popular_items_when_few_have_a_score(
    bundles: dict[str, Path],
) -> None:
    """A user whose items have no neighbours gets popular eligible items after the scored ones."""
    model = load_bundle(bundles["item_weights"])
    shape = (model.n_items, model.n_items)
    one_neighbour = sp.csr_matrix(([1.0], ([0], [1])), shape=shape, dtype=np.float32)
    user_items = sp.csr_matrix(([1.0], ([0], [0])), shape=model.user_items.shape)
    engine = Engine(replace(model, item_weights=one_neighbour, user_items=user_items), max_k=100)
    user_id = next(user for user, row in model.user_rows.items() if row == 0)
    ranking = engine.recommend(user_id, k=4)
    assert ranking.columns[0] == 1
    assert ranking.is_fallback and ranking.fallback_reason == FallbackReason.INSUFFICIENT_CANDIDATES
    popular_rest = [c for c in engine.popular_order.tolist() if c not in (0, 1)][:3]
    assert ranking.columns[1:].tolist() == popular_rest


def test_a_history_is_ranked_by_its_scores_without_its_items(engine: Engine) -> None:
    model = engine.model
    row = model.user_rows[7]
    start, end = model.user_items.indptr[row], model.user_items.indptr[row + 1]
    columns = model.user_items.indices[start:end]
    history = History(columns.astype(np.int64), model.user_items.data[start:end])
    profile = Profile(model.item_ids[columns], history.weights, model.item_ids[columns], NONE)
    ranking = engine.recommend(None, k=6, profile=profile)
    scores = engine.scorer.score_history(history)
    eligible = np.ones(model.n_items, dtype=bool)
    eligible[history.columns] = False
    if engine.scorer.sparse:
        eligible &= scores > 0
        # The item-weight scorer scores a known user from the same row: the same answer.
        known = engine.recommend(7, k=6)
        assert ranking.columns.tolist() == known.columns.tolist()
    expected = [c for c in np.argsort(-scores, kind="stable").tolist() if eligible[c]][:6]
    assert ranking.columns.tolist() == expected
    np.testing.assert_allclose(ranking.scores, scores[expected], rtol=1e-6)


def test_an_empty_history_is_answered_as_an_unknown_user(engine: Engine) -> None:
    ranking = engine.recommend(
        None, k=3, profile=Profile(NONE, NONE.astype(np.float32), NONE, NONE)
    )
    assert ranking.fallback_reason == FallbackReason.UNKNOWN_USER
    assert ranking.columns.tolist() == engine.popular_order[:3].tolist()
