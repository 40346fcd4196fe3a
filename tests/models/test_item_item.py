"""Item-item cosine with shrinkage, against similarities computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from movierec.models import ItemItemParams, ItemItemRecommender, Recommender
from movierec.models.compute import FitOptions
from tests.models.contract import RecommenderContract

# Columns: c0 = (1,1,1,0), c1 = (1,0,1,2), c2 = (0,1,0,1); |c0|^2 = 3, |c1|^2 = 6, |c2|^2 = 2;
# c0.c1 = 2, c0.c2 = 1, c1.c2 = 2.
HAND = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 1, 0], [0, 2, 1]], dtype=np.float32))
SIM_01 = 2 / (math.sqrt(18) + 1)
SIM_02 = 1 / (math.sqrt(6) + 1)
SIM_12 = 2 / (math.sqrt(12) + 1)


class TestItemItem(RecommenderContract):
    def make_model(self) -> Recommender:
        return ItemItemRecommender(ItemItemParams(neighbours=20, shrinkage=10.0, embedding_dim=32))


def test_shrunk_cosine_matches_hand_computation() -> None:
    weights = (
        ItemItemRecommender(ItemItemParams(shrinkage=1.0)).fit(HAND).item_weight_matrix().toarray()
    )
    expected = [[0, SIM_01, SIM_02], [SIM_01, 0, SIM_12], [SIM_02, SIM_12, 0]]
    np.testing.assert_allclose(weights, expected, rtol=1e-6)


def test_plain_cosine_without_shrinkage() -> None:
    weights = (
        ItemItemRecommender(ItemItemParams(shrinkage=0.0)).fit(HAND).item_weight_matrix().toarray()
    )
    assert weights[0, 1] == pytest.approx(2 / math.sqrt(18))
    assert weights[1, 2] == pytest.approx(2 / math.sqrt(12))


def test_keeps_only_the_top_neighbours_per_item() -> None:
    weights = (
        ItemItemRecommender(ItemItemParams(neighbours=1, shrinkage=1.0))
        .fit(HAND)
        .item_weight_matrix()
    )
    expected = [[0, SIM_01, 0], [0, 0, SIM_12], [0, SIM_12, 0]]
    np.testing.assert_allclose(weights.toarray(), expected, rtol=1e-6)
    assert weights.nnz == 3


def test_score_sums_the_history_similarities() -> None:
    model = ItemItemRecommender(ItemItemParams(shrinkage=1.0)).fit(HAND)
    scores = model.score(np.array([0]), HAND[[0]])
    np.testing.assert_allclose(scores[0], [SIM_01, SIM_01, SIM_02 + SIM_12], rtol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
def test_blocks_and_threads_give_the_same_weights(user_items: sp.csr_matrix, threads: int) -> None:
    whole = ItemItemRecommender(ItemItemParams(neighbours=7)).fit(user_items).item_weight_matrix()
    steps: list[tuple[int, int]] = []
    # 4 rows per block per thread: 12 bytes per dense entry
    options = FitOptions(
        threads, user_items.shape[1] * 12 * 4 * threads, lambda *s: steps.append(s)
    )
    blocked = ItemItemRecommender(ItemItemParams(neighbours=7)).fit(user_items, options)
    np.testing.assert_array_equal(blocked.item_weight_matrix().toarray(), whole.toarray())
    n_blocks = -(-user_items.shape[1] // 4)
    assert steps == [(done, n_blocks) for done in range(1, n_blocks + 1)]


def test_item_without_interactions_has_no_neighbours() -> None:
    matrix = sp.hstack([HAND, sp.csr_matrix((4, 1), dtype=np.float32)]).tocsr()
    weights = (
        ItemItemRecommender(ItemItemParams(shrinkage=0.0))
        .fit(matrix)
        .item_weight_matrix()
        .toarray()
    )
    assert np.isfinite(weights).all()
    assert not weights[3].any() and not weights[:, 3].any()


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValidationError, match="neighbours"):
        ItemItemParams(neighbours=0)
    with pytest.raises(ValidationError, match="shrinkage"):
        ItemItemParams(shrinkage=-1.0)
