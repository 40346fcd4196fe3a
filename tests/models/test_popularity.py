"""Popularity: one ranking for everyone, by interactions (or confidence) per item."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from movierec.models import PopularityParams, PopularityRecommender, Recommender
from tests.models.contract import RecommenderContract

# Item 2 is watched by 3 users, item 0 by 2, item 3 by 1 (with a high rating), item 1 by none.
HAND = sp.csr_matrix(np.array([[1, 0, 2, 0], [3, 0, 1, 0], [0, 0, 1, 5]], dtype=np.float32))


class TestPopularity(RecommenderContract):
    collaborative = False

    def make_model(self) -> Recommender:
        return PopularityRecommender()


def test_ranks_by_number_of_interactions() -> None:
    model = PopularityRecommender().fit(HAND)
    ids, scores = model.recommend(np.array([0]), sp.csr_matrix((1, 4), dtype=np.float32), k=4)
    np.testing.assert_array_equal(ids[0], [2, 0, 3, 1])
    np.testing.assert_array_equal(scores[0], [3, 2, 1, 0])


def test_confidence_weighting_sums_values() -> None:
    model = PopularityRecommender(PopularityParams(weighting="confidence")).fit(HAND)
    ids, scores = model.recommend(np.array([0]), sp.csr_matrix((1, 4), dtype=np.float32), k=4)
    np.testing.assert_array_equal(ids[0], [3, 0, 2, 1])
    np.testing.assert_array_equal(scores[0], [5, 4, 4, 0])


def test_same_ranking_for_every_user_minus_their_history() -> None:
    model = PopularityRecommender().fit(HAND)
    ids, _ = model.recommend(np.arange(3), HAND, k=2)
    np.testing.assert_array_equal(ids, [[3, 1], [3, 1], [0, 1]])


def test_unknown_weighting_is_refused() -> None:
    with pytest.raises(ValidationError, match="weighting"):
        PopularityParams(weighting="views")  # type: ignore[arg-type]
