"""The FAISS item index: exact cosine by default, HNSW as an option, never the query itself."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.models import ModelError
from movierec.models.index import build_index, index_from_bytes, index_to_bytes, search_similar


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return np.random.default_rng(3).standard_normal((300, 16)).astype(np.float32)


def brute_force(vectors: np.ndarray, itemids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit[itemids] @ unit.T
    cosine[np.arange(len(itemids)), itemids] = -np.inf
    order = np.argsort(-cosine, axis=1)[:, :k]
    return order, np.take_along_axis(cosine, order, axis=1)


def test_flat_is_exact(vectors: np.ndarray) -> None:
    queries = np.arange(0, 300, 7)
    ids, scores = search_similar(build_index(vectors), vectors, queries, k=10)
    expected_ids, expected_scores = brute_force(vectors, queries, 10)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)
    assert ids.dtype == np.int64 and scores.dtype == np.float32


def test_hnsw_finds_the_same_nearest_neighbour(vectors: np.ndarray) -> None:
    queries = np.arange(300)
    hnsw = build_index(vectors, kind="hnsw", hnsw_m=16, hnsw_ef_search=64)
    ids, _ = search_similar(hnsw, vectors, queries, k=1)
    np.testing.assert_array_equal(ids[:, 0], brute_force(vectors, queries, 1)[0][:, 0])


def test_serialised_index_answers_the_same(vectors: np.ndarray) -> None:
    for kind in ("flat", "hnsw"):
        index = build_index(vectors, kind=kind, hnsw_ef_search=77)
        restored = index_from_bytes(index_to_bytes(index))
        assert restored.ntotal == 300
        queries = np.arange(20)
        np.testing.assert_array_equal(
            search_similar(restored, vectors, queries, 5)[0],
            search_similar(index, vectors, queries, 5)[0],
        )
    assert restored.hnsw.efSearch == 77


def test_zero_vector_gives_no_nan(vectors: np.ndarray) -> None:
    with_zero = vectors.copy()
    with_zero[4] = 0.0
    ids, scores = search_similar(build_index(with_zero), with_zero, np.array([4, 5]), k=10)
    assert not np.isnan(scores).any()
    np.testing.assert_array_equal(scores[0], 0.0)
    assert 4 not in ids[0] and 4 not in ids[1]


def test_k_beyond_catalogue_pads(vectors: np.ndarray) -> None:
    small = vectors[:4]
    ids, scores = search_similar(build_index(small), small, np.array([0, 3]), k=5)
    assert (ids[:, :3] >= 0).all() and (ids[:, 3:] == -1).all()
    assert np.isneginf(scores[:, 3:]).all()
    assert 0 not in ids[0] and 3 not in ids[1]


def test_duplicate_vectors_still_exclude_the_query() -> None:
    same = np.ones((5, 3), dtype=np.float32)
    ids, _ = search_similar(build_index(same), same, np.arange(5), k=4)
    for query, row in enumerate(ids):
        assert sorted(row) == [i for i in range(5) if i != query]


def test_unknown_index_kind(vectors: np.ndarray) -> None:
    with pytest.raises(ModelError, match="flat, hnsw"):
        build_index(vectors, kind="ivf")
