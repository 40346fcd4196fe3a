"""Approximate /recommend from the bundle's HNSW item index against exact scoring."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import faiss
import numpy as np
import pytest

from movierec.models.index import build_index
from movierec.serving.approximate import ApproximateTopK
from movierec.serving.engine import Approximate, Engine
from movierec.serving.loader import LoadedModel, load_bundle
from tests.bundles import build_synthetic_bundle

K = 10


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """The synthetic ALS bundle with an HNSW item index in place of the exact one."""
    loaded = load_bundle(build_synthetic_bundle(tmp_path_factory.mktemp("bundle")))
    hnsw = build_index(np.asarray(loaded.item_embeddings), "hnsw", hnsw_m=8)
    return dataclasses.replace(loaded, index=hnsw)


def test_approximate_answers_match_exact_scoring(model: LoadedModel) -> None:
    exact = Engine(model, max_k=100)
    approximate = Engine(model, max_k=100, approximate=Approximate(candidates=20, ef_search=64))
    overlaps = []
    for user_id, row in model.user_rows.items():
        found = approximate.recommend(user_id, K)
        expected = exact.recommend(user_id, K)
        seen = model.user_items.indices[
            model.user_items.indptr[row] : model.user_items.indptr[row + 1]
        ]
        assert not np.isin(found.columns, seen).any()
        assert len(found.columns) == K and not found.is_fallback
        # The index stores the vectors themselves: its scores are the exact scores.
        exact_scores = model.item_embeddings[found.columns] @ model.user_embeddings[row]
        np.testing.assert_allclose(found.scores, exact_scores, rtol=1e-4, atol=1e-5)
        overlaps.append(len(set(found.columns) & set(expected.columns)) / K)
    assert np.mean(overlaps) >= 0.98


def test_too_few_left_after_the_seen_items_asks_for_exact_scoring() -> None:
    items = np.eye(6, dtype=np.float32)
    index = faiss.IndexHNSWFlat(6, 4, faiss.METRIC_INNER_PRODUCT)
    index.add(items)
    search = ApproximateTopK(index, candidates=0, ef_search=16)
    user = np.arange(6, dtype=np.float32)
    seen = np.array([0, 1, 2, 3, 4])
    assert search.top_k(user, seen, 0, 5, 2) is None
    columns, scores = search.top_k(user, seen, 0, 3, 2)  # only 0, 1, 2 seen
    assert columns.tolist() == [5, 4] and scores.tolist() == [5.0, 4.0]


def test_configured_settings_reach_the_index(model: LoadedModel, tmp_path: Path) -> None:
    Engine(model, max_k=100, approximate=Approximate(candidates=5, ef_search=77))
    assert model.index.hnsw.efSearch == 77
