"""The compiled /recommend kernel against numpy on hand-made and generated cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from movierec.serving.engine import Engine
from movierec.serving.kernels import embedding_top_k
from movierec.serving.loader import load_bundle


def reference(
    items: np.ndarray, user: np.ndarray, seen: np.ndarray, k: int
) -> tuple[list[int], list[float]]:
    """Best first, ties by column, seen columns left out: what the kernel must return."""
    scores = items @ user
    order = [c for c in np.argsort(-scores, kind="stable").tolist() if c not in set(seen)][:k]
    return order, scores[order].tolist()


def top_k(
    items: np.ndarray, user: np.ndarray, seen: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The kernel on item embeddings as the bundle stores them (one row per item)."""
    # `seen` as one row among others: columns before and after it must not count.
    padded = np.concatenate([[0], seen, np.arange(len(items))]).astype(np.int32)
    return embedding_top_k(np.ascontiguousarray(items.T), user, padded, 1, len(seen) + 1, k)


def test_a_hand_computed_case() -> None:
    items = np.array([[1, 0], [0, 1], [1, 1], [2, 0], [0, 0]], dtype=np.float32)
    user = np.array([1.0, 2.0], dtype=np.float32)  # scores 1, 2, 3, 2, 0
    seen = np.array([2], dtype=np.int32)
    columns, scores = top_k(items, user, seen, 3)
    assert columns.tolist() == [1, 3, 0]  # 1 and 3 tie at 2: the earlier column first
    assert scores.tolist() == [2.0, 2.0, 1.0]
    columns, _ = top_k(items, user, np.array([0, 1, 2, 3], dtype=np.int32), 3)
    assert columns.tolist() == [4]  # fewer left than k: all of them


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.integers(-3, 3), min_size=3, max_size=3), min_size=n, max_size=n),
            st.lists(st.integers(-2, 2), min_size=3, max_size=3),
            st.sets(st.integers(0, n - 1)),
            st.integers(1, n + 3),
        )
    )
)
def test_the_kernel_is_the_stable_top_k_of_the_unseen_scores(
    case: tuple[list[list[int]], list[int], set[int], int],
) -> None:
    """Small integers: exact scores and many ties, so any ordering mistake shows."""
    rows, vector, seen_set, k = case
    items = np.array(rows, dtype=np.float32)
    user = np.array(vector, dtype=np.float32)
    seen = np.array(sorted(seen_set), dtype=np.int32)
    columns, scores = top_k(items, user, seen, k)
    assert (columns.tolist(), scores.tolist()) == reference(items, user, seen, k)


def test_duplicate_seen_columns_are_skipped_once() -> None:
    items = np.eye(4, dtype=np.float32)
    user = np.array([4.0, 3.0, 2.0, 1.0], dtype=np.float32)
    seen = np.array([0, 0, 2], dtype=np.int32)
    assert top_k(items, user, seen, 4)[0].tolist() == [1, 3]


def test_recommend_agrees_with_the_numpy_formula_for_every_user(
    bundles: dict[str, Path],
) -> None:
    model = load_bundle(bundles["embeddings"])
    engine = Engine(model, max_k=100)
    for user_id, row in model.user_rows.items():
        seen = model.user_items[row].indices  # the columns the user interacted with
        scores = model.item_embeddings @ model.user_embeddings[row]
        _, expected = reference(model.item_embeddings, model.user_embeddings[row], seen, 7)
        ranking = engine.recommend(user_id, k=7)
        # Scores, not columns: the kernel may add in another order than BLAS (last-bit ties).
        np.testing.assert_allclose(ranking.scores, expected, rtol=1e-5)
        np.testing.assert_allclose(scores[ranking.columns], ranking.scores, rtol=1e-5)
        assert not set(ranking.columns.tolist()) & set(seen.tolist())
        assert not ranking.is_fallback
