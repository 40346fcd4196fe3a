"""The one top-k, exclusion and filters, against hand-computed cases and a stable sort."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from movierec.artifacts import ItemRecord
from movierec.serving.errors import InvalidQueryError
from movierec.serving.ranking import (
    ItemFilters,
    best_k,
    exclude_interactions,
    select_top_k,
    top_k,
)


def test_top_k_picks_the_best_candidates_in_order() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3, 0.8])
    candidates = np.array([True, False, True, True, True, True])
    assert top_k(scores, candidates, 3).tolist() == [5, 3, 2]
    assert top_k(scores, candidates, 10).tolist() == [5, 3, 2, 4, 0]
    assert top_k(scores, np.zeros(6, dtype=bool), 3).tolist() == []


def test_best_k_breaks_ties_by_position() -> None:
    values = np.array([0.5, -np.inf, 0.9, 0.5, 0.2, 0.5], dtype=np.float32)
    assert best_k(values, 1).tolist() == [2]
    assert best_k(values, 2).tolist() == [2, 0]
    assert best_k(values, 3).tolist() == [2, 0, 3]  # three tie at 0.5: the first ones win
    assert best_k(values, 5).tolist() == [2, 0, 3, 5, 4]
    assert best_k(values, 9).tolist() == [2, 0, 3, 5, 4, 1]  # k above the length: all, sorted


@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=60),  # small ints: many ties
    st.integers(1, 70),
)
def test_best_k_is_the_head_of_a_stable_descending_sort(values: list[int], k: int) -> None:
    array = np.array(values, dtype=np.float32)
    expected = np.argsort(-array, kind="stable")[:k]
    assert best_k(array, k).tolist() == expected.tolist()


@given(
    st.integers(1, 12).flatmap(
        lambda n: st.lists(
            st.lists(st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 2.0]), min_size=n, max_size=n),
            min_size=1,
            max_size=6,
        )
    ),
    st.integers(1, 15),
)
def test_select_top_k_ranks_each_row_and_pads_the_ineligible(
    rows: list[list[float]], k: int
) -> None:
    scores = np.array(rows, dtype=np.float32)
    indices, values = select_top_k(scores, k)
    assert indices.shape == values.shape == (len(rows), k)
    for row, picked, picked_scores in zip(scores, indices, values, strict=True):
        expected = [c for c in np.argsort(-row, kind="stable").tolist() if row[c] > -np.inf][:k]
        padding = k - len(expected)
        assert picked.tolist() == expected + [-1] * padding
        assert picked_scores.tolist() == row[expected].tolist() + [-np.inf] * padding


def test_select_top_k_leaves_nan_out_and_keeps_float64_order() -> None:
    scores = np.array([[np.nan, 0.3, np.nan, 0.3, 0.1], [1.0 + 1e-12, 1.0, 0.0, -np.inf, 2.0]])
    indices, values = select_top_k(scores, 3)
    assert indices.tolist() == [[1, 3, 4], [4, 0, 1]]  # in float32 the 1.0s would tie
    assert values.dtype == np.float32
    assert select_top_k(scores[:, :1], 3)[0].tolist() == [[-1, -1, -1], [0, -1, -1]]


def test_select_top_k_refuses_k_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        select_top_k(np.zeros((1, 3)), 0)


def test_exclusions_set_minus_infinity() -> None:
    scores = np.ones((2, 3), dtype=np.float32)
    seen = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]], dtype=np.float32))
    assert np.isinf(exclude_interactions(scores.copy(), seen)).tolist() == [
        [True, False, True],
        [False, True, False],
    ]


ITEMS = [
    ItemRecord(1, "a", 1985, ["Horror"]),
    ItemRecord(2, "b", 1990, ["Comedy", "Romance"]),
    ItemRecord(3, "c", 1995, ["Comedy"]),
    ItemRecord(4, "d", None, ["Horror"]),
    ItemRecord(5, "e", 1980, ["Action"]),
]


def test_filters_combine_genres_by_or_and_years_by_and() -> None:
    filters = ItemFilters(ITEMS)
    mask = filters.select(["horror", "Comedy"], 1985, 1990)
    assert mask is not None and mask.tolist() == [True, True, False, False, False]
    years = filters.select(None, None, 1985)
    assert years is not None and years.tolist() == [True, False, False, False, True]
    assert filters.select(None, None, None) is None


def test_an_unknown_genre_names_its_field_and_the_valid_genres() -> None:
    filters = ItemFilters(ITEMS)
    with pytest.raises(InvalidQueryError, match="valid genres: Action, Comedy") as error:
        filters.select(["Comedy", "Western"], None, None)
    assert error.value.field == ("filters", "genres", 1)
    assert error.value.value == "Western"
    with pytest.raises(InvalidQueryError) as error:
        filters.genre("Noir", ("genre",))
    assert error.value.field == ("genre",)
