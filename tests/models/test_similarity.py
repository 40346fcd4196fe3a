"""Similar-item tables, checked against similarities computed by hand on tiny matrices."""

from __future__ import annotations

import doctest
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models import ModelError, similarity
from movierec.models.compute import FitOptions, block_rows
from movierec.models.similarity import (
    embedding_cosine,
    shrunk_cosine,
    similar_items_table,
    weight_rows,
)

# Users x items: item 0 is everyone's (4 users), items 1 and 2 share two users, item 3 has
# one user who also has items 0 and 1, item 4 shares no user with anything.
USER_ITEMS = sp.csr_matrix(
    np.array(
        [
            [1, 1, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [1, 0, 0, 0, 0],
            [5, 3, 0, 2, 0],  # any value counts as one interaction
            [0, 0, 0, 0, 4],
        ],
        dtype=np.float32,
    )
)


def test_docstring_example() -> None:
    result = doctest.testmod(similarity, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted and not result.failed


def test_shrunk_cosine_by_hand() -> None:
    table = similar_items_table(USER_ITEMS, shrunk_cosine(1.0), popularity_penalty=0.0, size=3)
    # audiences 4, 3, 2, 1, 1; item 1 shares 3 users with 0, 2 with 2, 1 with 3.
    assert table.audience.tolist() == [4, 3, 2, 1, 1]
    expected = {0: 3 / (np.sqrt(12) + 1), 2: 2 / (np.sqrt(6) + 1), 3: 1 / (np.sqrt(3) + 1)}
    assert table.columns[1].tolist() == [0, 2, 3]  # 0.672, 0.580, 0.366
    np.testing.assert_allclose(table.scores[1], list(expected.values()), rtol=1e-6)
    assert table.shared[1].tolist() == [3, 2, 1]


def test_penalty_divides_by_the_candidates_audience() -> None:
    table = similar_items_table(USER_ITEMS, shrunk_cosine(1.0), popularity_penalty=1.0, size=3)
    # item 1: 0 -> 0.672 / 4 = 0.168, 2 -> 0.580 / 2 = 0.290, 3 -> 0.366 / 1 = 0.366
    assert table.columns[1].tolist() == [3, 2, 0]
    np.testing.assert_allclose(
        table.scores[1],
        [1 / (np.sqrt(3) + 1), 2 / (np.sqrt(6) + 1) / 2, 3 / (np.sqrt(12) + 1) / 4],
        rtol=1e-6,
    )
    assert table.shared[1].tolist() == [1, 2, 3]


def test_items_sharing_no_user_are_never_listed_and_rows_are_padded() -> None:
    table = similar_items_table(USER_ITEMS, shrunk_cosine(0.0), popularity_penalty=0.0, size=4)
    assert table.columns[4].tolist() == [-1, -1, -1, -1]  # no one else has item 4
    assert table.columns[3].tolist() == [1, 0, -1, -1]  # its one user has items 0 and 1
    assert table.shared[3].tolist() == [1, 1, 0, 0]
    assert not (table.columns == np.arange(5)[:, None]).any()


def test_size_is_capped_at_the_other_items() -> None:
    table = similar_items_table(USER_ITEMS, shrunk_cosine(0.0), popularity_penalty=0.0, size=50)
    assert table.columns.shape == (5, 4)


def test_weight_rows_list_only_positive_weights() -> None:
    weights = np.zeros((5, 5), dtype=np.float32)
    weights[0] = [0.0, 0.2, -0.5, 0.9, 0.0]  # item 4 shares no user with item 0: not listed
    table = similar_items_table(USER_ITEMS, weight_rows(sp.csr_matrix(weights)), 0.0, size=4)
    assert table.columns[0].tolist() == [3, 1, -1, -1]
    np.testing.assert_allclose(table.scores[0, :2], [0.9, 0.2])


def test_embedding_cosine() -> None:
    vectors = np.array([[1, 0], [1, 1], [0, 1], [-1, 0], [1, 0]], dtype=np.float32)
    table = similar_items_table(USER_ITEMS, embedding_cosine(vectors), 0.0, size=4)
    assert table.columns[1].tolist() == [0, 2, -1, -1]  # item 3 is at cos -0.71
    np.testing.assert_allclose(table.scores[1, :2], [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
def test_blocks_and_threads_give_the_same_table(threads: int) -> None:
    rng = np.random.default_rng(3)
    user_items = sp.random(60, 40, density=0.2, format="csr", random_state=rng, dtype=np.float32)
    whole = similar_items_table(user_items, shrunk_cosine(5.0), 0.5, size=10)
    options = FitOptions(threads, block_bytes=3 * 40 * similarity.DENSE_BYTES_PER_ENTRY * threads)
    assert block_rows(40, similarity.DENSE_BYTES_PER_ENTRY, options) == 3
    blocked = similar_items_table(user_items, shrunk_cosine(5.0), 0.5, size=10, options=options)
    for name in ("columns", "scores", "shared", "audience"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: shrunk_cosine(-1.0), "shrinkage must be >= 0"),
        (lambda: similar_items_table(USER_ITEMS, shrunk_cosine(0), -0.1, 5), "popularity_penalty"),
        (lambda: similar_items_table(USER_ITEMS, shrunk_cosine(0), 0.0, 0), "size must be"),
    ],
)
def test_bad_parameters_are_refused(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        call()
