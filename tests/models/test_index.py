"""The FAISS item index: inner product over the item embeddings (the model's own scores),
exact by default, HNSW as an option."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.models import ModelError
from movierec.models.index import build_index, index_from_bytes, index_to_bytes


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return np.random.default_rng(3).standard_normal((300, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def users() -> np.ndarray:
    return np.random.default_rng(4).standard_normal((40, 16)).astype(np.float32)


def brute_force(vectors: np.ndarray, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = users @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def test_flat_is_exact_inner_product(vectors: np.ndarray, users: np.ndarray) -> None:
    scores, ids = build_index(vectors).search(users, 10)
    expected_ids, expected_scores = brute_force(vectors, users, 10)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)


def test_item_norms_count_as_in_the_model_score() -> None:
    """Not cosine: a long vector in a slightly worse direction wins, as in user @ item."""
    items = np.array([[1.0, 0.0], [3.0, 3.0]], dtype=np.float32)
    _, ids = build_index(items).search(np.array([[1.0, 0.0]], dtype=np.float32), 1)
    assert ids[0, 0] == 1


def test_hnsw_finds_the_best_item_for_almost_every_user(
    vectors: np.ndarray, users: np.ndarray
) -> None:
    hnsw = build_index(vectors, kind="hnsw", hnsw_m=16)
    hnsw.hnsw.efSearch = 64
    _, ids = hnsw.search(users, 1)
    assert (ids[:, 0] == brute_force(vectors, users, 1)[0][:, 0]).mean() >= 0.95


def test_serialised_index_answers_the_same(vectors: np.ndarray, users: np.ndarray) -> None:
    for kind in ("flat", "hnsw"):
        index = build_index(vectors, kind=kind)
        restored = index_from_bytes(index_to_bytes(index))
        assert restored.ntotal == 300
        np.testing.assert_array_equal(restored.search(users, 5)[1], index.search(users, 5)[1])


def test_unknown_index_kind(vectors: np.ndarray) -> None:
    with pytest.raises(ModelError, match="flat, hnsw"):
        build_index(vectors, kind="ivf")
