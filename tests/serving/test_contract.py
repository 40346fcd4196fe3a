"""The seam between training and serving: for every model kind, the engine over the bundle
training builds ranks exactly as the fitted model does on the same training data.

Each kind is fitted on the synthetic data, bundled by training's own `build_bundle` (through
`tests.bundles.write_bundle`) and loaded by the engine; then for every user the engine's
top-k must be `model.recommend`'s (same items, same order, scores within float tolerance),
with and without exclude-seen, and with filters against the model's scores masked to the
eligible items. The popularity kind exports no bundle of its own: it is the bundle's
popularity, so the engine's popular and unknown-user answers must be its ranking.

"Similar" has one meaning whatever the kind, as the README states: the similar-items table
training builds (`similar_items_table`), which serving answers from; models have no
`similar_items` of their own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models import MODEL_CLASSES, Recommender, create_model
from movierec.models.similarity import shrunk_cosine, similar_items_table
from movierec.serving.engine import Engine, Ranking
from movierec.serving.fallback import FallbackReason
from movierec.serving.loader import load_bundle
from movierec.serving.ranking import select_top_k
from tests.bundles import SIMILAR, ids_of, interaction_matrix, write_bundle
from tests.synthetic import SyntheticMovieLens

K = 10
RTOL, ATOL = 1e-5, 1e-6
FILTERS = [
    {"genres": ["Comedy"]},
    {"genres": ["horror", "Sci-Fi"], "year_min": 1985},
    {"year_min": 1990, "year_max": 1994},
]
BUNDLED = [kind for kind, cls in MODEL_CLASSES.items() if cls.scorer != "popularity"]


class Fitted:
    """A model fitted on the synthetic data, its training matrix and the engine over its
    bundle."""

    def __init__(self, data: SyntheticMovieLens, model: Recommender, directory: Path) -> None:
        self.user_ids, _ = ids_of(data.ratings, data.items)
        self.matrix = interaction_matrix(data.ratings, *ids_of(data.ratings, data.items))
        self.model = model.fit(self.matrix)
        write_bundle(directory, data.ratings, data.items, self.model, f"contract-{model.kind}")
        self.engine = Engine(load_bundle(directory), max_k=100)

    def expected(
        self, row: int, exclude_seen: bool, eligible: np.ndarray | None = None
    ) -> tuple[list[int], np.ndarray]:
        """The model's top-K for training row `row`, among `eligible` columns when given."""
        history = self.matrix[[row]]
        if eligible is None:
            columns, scores = self.model.recommend(np.array([row]), history, K, exclude_seen)
        else:
            masked = self.model.score(np.array([row]), history)
            masked[:, ~eligible] = -np.inf
            if exclude_seen:
                masked[:, history.indices] = -np.inf
            columns, scores = select_top_k(masked, K)
        listed = columns[0] >= 0
        return columns[0][listed].tolist(), scores[0][listed]


@pytest.fixture(scope="module", params=BUNDLED)
def fitted(
    request: pytest.FixtureRequest,
    synthetic_data: SyntheticMovieLens,
    tmp_path_factory: pytest.TempPathFactory,
) -> Fitted:
    kind: str = request.param
    return Fitted(synthetic_data, create_model(kind), tmp_path_factory.mktemp(kind))


def assert_same_ranking(
    fitted: Fitted, row: int, ranking: Ranking, expected: tuple[list[int], np.ndarray]
) -> int:
    """The engine's ranking is the model's: the same scores in the same order, each item with
    the model's score for its place, and the same item wherever that score has no near tie
    (items whose scores differ only in the last bits, from another order of summation, may
    swap). An item-weights engine ranks only the items with a positive score and says that
    popular items fill the rest. Returns how many places were compared item for item."""
    columns, scores = expected
    if fitted.engine.scorer.sparse:
        ranked = int((scores > 0).sum())
        columns, scores = columns[:ranked], scores[:ranked]
        if ranked < K:
            assert ranking.fallback_reason == FallbackReason.INSUFFICIENT_CANDIDATES
    served = ranking.columns[: len(columns)]
    model_scores = fitted.model.score(np.array([row]), fitted.matrix[[row]])[0]
    np.testing.assert_allclose(ranking.scores[: len(columns)], scores, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(model_scores[served], scores, rtol=RTOL, atol=ATOL)
    assert len(set(ranking.columns.tolist())) == len(ranking.columns)
    close = np.isclose(model_scores[None, :], scores[:, None], rtol=RTOL, atol=ATOL)
    alone = close.sum(axis=1) == 1  # no other item has this place's score
    assert served[alone].tolist() == np.array(columns)[alone].tolist()
    return int(alone.sum())


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_the_engine_ranks_every_user_as_the_model_does(fitted: Fitted, exclude_seen: bool) -> None:
    compared = 0
    for row, user_id in enumerate(fitted.user_ids.tolist()):
        ranking = fitted.engine.recommend(user_id, K, exclude_seen)
        compared += assert_same_ranking(fitted, row, ranking, fitted.expected(row, exclude_seen))
        seen = set(fitted.matrix[row].indices.tolist())
        assert not (exclude_seen and seen & set(ranking.columns.tolist()))
    assert compared > 0


@pytest.mark.parametrize("filters", FILTERS)
def test_filtered_rankings_are_the_model_scores_masked_to_the_eligible_items(
    fitted: Fitted, filters: dict
) -> None:
    genres, year_min, year_max = (filters.get(f) for f in ("genres", "year_min", "year_max"))
    eligible = fitted.engine.filters.select(genres, year_min, year_max)
    assert eligible is not None and 0 < eligible.sum() < fitted.model.n_items
    compared = 0
    for row, user_id in enumerate(fitted.user_ids.tolist()):
        ranking = fitted.engine.recommend(user_id, K, True, genres, year_min, year_max)
        expected = fitted.expected(row, True, eligible.copy())
        if not fitted.engine.scorer.sparse and len(expected[0]) < K:
            assert ranking.fallback_reason == FallbackReason.INSUFFICIENT_CANDIDATES
        compared += assert_same_ranking(fitted, row, ranking, expected)
        assert eligible[ranking.columns].all()
    assert compared > 0


def test_the_bundles_popularity_is_the_popularity_model(fitted: Fitted) -> None:
    popularity = create_model("popularity").fit(fitted.matrix)
    one_user = sp.csr_matrix((1, fitted.model.n_items), dtype=np.float32)
    columns, scores = popularity.recommend(np.array([0]), one_user, K, exclude_seen=False)
    popular = fitted.engine.popular(K)
    assert popular.columns.tolist() == columns[0].tolist()
    np.testing.assert_allclose(popular.scores, scores[0])
    unknown = fitted.engine.recommend(10**9, K)
    assert unknown.columns.tolist() == columns[0].tolist()
    assert unknown.fallback_reason == FallbackReason.UNKNOWN_USER


def test_similar_answers_from_the_bundles_table_whatever_the_kind(fitted: Fitted) -> None:
    table = similar_items_table(
        fitted.matrix,
        shrunk_cosine(SIMILAR["shrinkage"]),
        SIMILAR["popularity_penalty"],
        SIMILAR["neighbours"],
    )
    for movie_id, column in fitted.engine.model.item_columns.items():
        found = fitted.engine.similar(movie_id, K)
        listed = table.columns[column, :K]
        assert found.columns.tolist() == listed[listed >= 0].tolist()
        np.testing.assert_allclose(found.scores, table.scores[column, : len(found.columns)])
