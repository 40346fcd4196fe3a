"""ALS through implicit: scores are factor dot products, weighting as configured."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models import AlsParams, AlsRecommender, ModelError, Recommender
from tests.models.contract import RecommenderContract


class TestAls(RecommenderContract):
    def make_model(self) -> Recommender:
        return AlsRecommender(AlsParams(factors=8, iterations=10))


def test_score_is_the_factor_dot_product(user_items: sp.csr_matrix) -> None:
    model = AlsRecommender(AlsParams(factors=8, iterations=5)).fit(user_items)
    users = np.array([3, 1])
    np.testing.assert_allclose(
        model.score(users, user_items[users]),
        model.user_vectors(user_items)[users] @ model.item_vectors().T,
        rtol=1e-6,
    )
    assert model.item_vectors().shape == (user_items.shape[1], 8)


def test_other_seed_other_factors(user_items: sp.csr_matrix) -> None:
    first = (
        AlsRecommender(AlsParams(factors=8, iterations=5, seed=1)).fit(user_items).item_vectors()
    )
    second = (
        AlsRecommender(AlsParams(factors=8, iterations=5, seed=2)).fit(user_items).item_vectors()
    )
    assert not np.allclose(first, second)


@pytest.mark.parametrize("weighting", ["bm25", "confidence", "none"])
def test_weighting(weighting: str, user_items: sp.csr_matrix) -> None:
    params = AlsParams(weighting=weighting)  # type: ignore[arg-type]
    weighed = AlsRecommender(params).weigh(user_items)
    assert weighed.shape == user_items.shape and weighed.nnz == user_items.nnz
    if weighting == "none":
        assert (weighed.data == 1).all()
    elif weighting == "confidence":
        np.testing.assert_array_equal(weighed.toarray(), user_items.toarray())
    else:
        assert not np.allclose(weighed.toarray(), user_items.toarray())


def test_bm25_takes_its_k1_and_b(user_items: sp.csr_matrix) -> None:
    def weighed(**bm25: float) -> np.ndarray:
        params = AlsParams(weighting="bm25", **bm25)
        return AlsRecommender(params).weigh(user_items).toarray()

    default = weighed()
    np.testing.assert_array_equal(default, weighed(bm25_k1=1.2, bm25_b=0.5))
    assert not np.allclose(default, weighed(bm25_k1=100.0))
    assert not np.allclose(default, weighed(bm25_b=0.0))


def test_trains_with_blas_limited_to_one_thread(
    monkeypatch: pytest.MonkeyPatch, user_items: sp.csr_matrix
) -> None:
    limits: list[tuple[object, object]] = []
    real_limits = __import__("threadpoolctl").threadpool_limits

    def recording(limits_arg: object = None, user_api: object = None) -> object:
        limits.append((limits_arg, user_api))
        return real_limits(limits_arg, user_api)

    monkeypatch.setattr("movierec.models.als.threadpool_limits", recording)
    AlsRecommender(AlsParams(factors=4, iterations=2)).fit(user_items)
    assert limits == [(1, "blas")]


def test_unknown_user_is_refused(user_items: sp.csr_matrix) -> None:
    model = AlsRecommender(AlsParams(factors=4, iterations=2)).fit(user_items)
    with pytest.raises(ModelError, match="popularity fallback"):
        model.score(np.array([user_items.shape[0]]), user_items[:1])
