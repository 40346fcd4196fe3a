"""Feedback profiles and their effect in the engine: event rules, exclusions, fallback
reasons, fold-in of a known user's new events, and explanations against hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.serving.engine import Engine
from movierec.serving.fallback import FallbackReason
from movierec.serving.loader import load_bundle
from movierec.serving.profiles import (
    Profile,
    UserEvent,
    UserProfiles,
    event_weight,
    inline_profile,
    profile_of,
)
from movierec.serving.scorers import EmbeddingScorer, History, ItemWeightsScorer


def test_event_weights_follow_the_documented_table() -> None:
    assert event_weight("rating", 5.0) == 6.0
    assert event_weight("rating", 3.0) == 4.0
    assert event_weight("rating", 2.5) == -3.5
    assert event_weight("rating", 0.5) == -5.5
    assert (event_weight("watch", None), event_weight("click", None)) == (4.0, 2.0)
    assert event_weight("dislike", None) == -6.0


def test_the_latest_rating_or_dislike_decides_then_a_watch_then_a_click() -> None:
    profile = profile_of(
        [
            UserEvent(1, 9, 10, "dislike", None),
            UserEvent(2, 9, 10, "rating", 4.0),  # later: the rating wins
            UserEvent(3, 9, 11, "click", None),
            UserEvent(4, 9, 11, "watch", None),  # a watch outweighs a click
            UserEvent(5, 9, 12, "rating", 5.0),
            UserEvent(6, 9, 12, "click", None),  # a click does not undo a rating
            UserEvent(7, 9, 13, "rating", 4.0),
            UserEvent(8, 9, 13, "dislike", None),
        ]
    )
    assert profile.movie_ids.tolist() == [10, 11, 12, 13]
    assert profile.weights.tolist() == [5.0, 4.0, 6.0, -6.0]
    assert profile.seen.tolist() == [10, 11, 12]
    assert profile.disliked.tolist() == [13]
    assert profile.positive and not profile_of([UserEvent(1, 9, 10, "dislike", None)]).positive


def test_profiles_ignore_repeats_and_erased_events_even_late_ones() -> None:
    profiles = UserProfiles()
    event = UserEvent(5, 1, 10, "rating", 4.0)
    profiles.add([event, event])
    assert profiles.get(1) is not None and profiles.get(1).movie_ids.tolist() == [10]
    profiles.erase(1, up_to_event_id=10)
    assert profiles.get(1) is None
    profiles.add([UserEvent(8, 1, 11, "click", None)])  # stored before the erasure, read after
    assert profiles.get(1) is None
    profiles.add([UserEvent(11, 1, 12, "click", None)])
    assert profiles.get(1).movie_ids.tolist() == [12]
    profiles.register([2])
    assert profiles.get(2).registered and not profiles.get(2).has_events


@pytest.fixture(params=["embeddings", "item_weights"])
def engine(request: pytest.FixtureRequest, bundles: dict[str, Path]) -> Engine:
    return Engine(load_bundle(bundles[request.param]), max_k=100)


def events(*items: tuple[int, str, float | None], user: int = 1) -> Profile:
    return profile_of([UserEvent(n, user, m, kind, v) for n, (m, kind, v) in enumerate(items)])


def test_rated_and_watched_are_excluded_and_dislikes_always(engine: Engine) -> None:
    first, second, third, fourth = engine.recommend(5, k=4).columns.tolist()
    ids = engine.movie_ids
    profile = events(
        (ids[first], "rating", 4.0),
        (ids[second], "watch", None),
        (ids[third], "dislike", None),
        (ids[fourth], "click", None),
    )
    after = engine.recommend(5, k=len(ids), profile=profile).columns.tolist()
    assert first not in after and second not in after and third not in after
    assert fourth in after  # a click is not a reason to leave a movie out
    unfiltered = engine.recommend(5, k=len(ids), exclude_seen=False, profile=profile)
    assert first in unfiltered.columns and third not in unfiltered.columns


def test_a_known_users_new_events_are_folded_into_their_training_row(engine: Engine) -> None:
    model = engine.model
    row = model.user_rows[5]
    start, end = model.user_items.indptr[row], model.user_items.indptr[row + 1]
    trained = model.user_items.indices[start:end]
    new_column = int(np.setdiff1d(np.arange(model.n_items), trained)[0])
    profile = events((engine.movie_ids[new_column], "rating", 5.0))
    ranking = engine.recommend(5, k=5, profile=profile)
    history = History(
        np.append(trained, new_column).astype(np.int64),
        np.append(model.user_items.data[start:end], 6.0).astype(np.float32),
    )
    scores = engine.scorer.score_history(history)
    scores[history.columns] = -np.inf
    expected = np.argsort(-scores, kind="stable")[:5]
    assert ranking.columns.tolist() == expected.tolist()
    assert not ranking.is_fallback


def test_fallback_reasons_tell_which_case(engine: Engine) -> None:
    popular = engine.popular_order.tolist()
    assert engine.recommend(999_999, k=3).fallback_reason == FallbackReason.UNKNOWN_USER
    registered = Profile(*events()[:4], registered=True)
    answer = engine.recommend(1_001, k=3, profile=registered)
    assert (answer.is_fallback, answer.fallback_reason) == (True, FallbackReason.NEW_USER)
    disliked = events((engine.movie_ids[popular[0]], "dislike", None))
    answer = engine.recommend(999_999, k=3, profile=disliked)
    assert answer.fallback_reason == FallbackReason.NO_POSITIVE_FEEDBACK
    assert answer.columns.tolist() == popular[1:4]  # popular, without the disliked movie
    liked = engine.recommend(999_999, k=3, profile=events((engine.movie_ids[0], "click", None)))
    assert (liked.is_fallback, liked.fallback_reason) == (False, None)


def test_an_inline_history_counts_unrated_movies_as_watched() -> None:
    profile = inline_profile([3, 4], [None, 2.0])
    assert profile.weights.tolist() == [4.0, -4.0]
    assert profile.seen.tolist() == [3, 4] and not len(profile.disliked)


def test_item_weight_explanations_are_the_largest_contributions() -> None:
    """History {0: 1, 1: 2, 2: 1}; W rows 0..2 towards items 3 and 4:
    item 3 gets 1*0.1, 2*0.3, 1*0.5 -> items 1 (0.6), 2 (0.5), 0 (0.1);
    item 4 gets 1*0.4, 2*0.0, 1*-0.2 -> only item 0 contributes positively."""
    weights = np.zeros((5, 5), dtype=np.float32)
    weights[[0, 1, 2], 3] = [0.1, 0.3, 0.5]
    weights[[0, 1, 2], 4] = [0.4, 0.0, -0.2]
    scorer = ItemWeightsScorer(sp.csr_matrix((1, 5), dtype=np.float32), sp.csr_matrix(weights))
    history = History(np.array([0, 1, 2]), np.array([1.0, 2.0, 1.0], dtype=np.float32))
    assert scorer.because(history, np.array([3, 4]), most=3) == [[1, 2, 0], [0]]
    assert scorer.because(history, np.array([3]), most=2) == [[1, 2]]


def test_embedding_explanations_are_the_closest_history_items() -> None:
    """Item 3 = (1, 1): cosines with items 0 (1, 0), 1 (0, 1), 2 (1, 0.2) are 0.707, 0.707,
    0.832: item 2 first, then 0 and 1 (ties by position); item 4 = (-1, 0) is opposite 0 and 2
    and orthogonal to 1, so nothing explains it."""
    items = np.array([[1, 0], [0, 1], [1, 0.2], [1, 1], [-1, 0]], dtype=np.float32)
    scorer = EmbeddingScorer(np.zeros((1, 2), np.float32), items)
    history = History(np.array([0, 1, 2]), np.ones(3, dtype=np.float32))
    assert scorer.because(history, np.array([3, 4]), most=3) == [[2, 0, 1], []]


def test_the_engine_explains_by_the_users_liked_history(engine: Engine) -> None:
    model = engine.model
    ranking = engine.recommend(5, k=5)
    row = model.user_rows[5]
    start, end = model.user_items.indptr[row], model.user_items.indptr[row + 1]
    trained = set(model.user_items.indices[start:end].tolist())
    disliked = engine.movie_ids[next(iter(trained))]
    profile = events((disliked, "dislike", None))
    because = engine.because(5, profile, ranking.columns)
    assert len(because) == 5 and all(1 <= len(reasons) <= 3 for reasons in because)
    assert all(set(reasons) <= trained - {model.item_columns[disliked]} for reasons in because)


def test_no_history_no_explanation(bundles: dict[str, Path]) -> None:
    engine = Engine(load_bundle(bundles["item_weights"]), max_k=10)
    assert engine.because(None, None, np.array([0, 1])) == [[], []]
