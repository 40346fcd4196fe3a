"""The one genre parser and writer, and a catalogue's genres."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from movierec import genres as genres_module
from movierec.genres import NO_GENRES, distinct_genres, join_genres, split_genres


@pytest.mark.parametrize(
    ("text", "genres"),
    [
        ("Comedy|Romance", ["Comedy", "Romance"]),
        ("Drama", ["Drama"]),
        ("", []),
        (NO_GENRES, []),
        ("Action||Sci-Fi|", ["Action", "Sci-Fi"]),
        (None, []),
        (float("nan"), []),  # a missing value read by pandas
    ],
)
def test_split_genres(text: object, genres: list[str]) -> None:
    assert split_genres(text) == genres


@given(st.lists(st.text(st.characters(blacklist_characters="|"), min_size=1), max_size=5))
def test_join_then_split_gives_the_genres_back(genres: list[str]) -> None:
    genres = [genre for genre in genres if genre != NO_GENRES]
    assert split_genres(join_genres(genres)) == genres


def test_distinct_genres_are_sorted_and_unique() -> None:
    assert distinct_genres([["Drama", "War"], [], ["Comedy", "Drama"]]) == [
        "Comedy",
        "Drama",
        "War",
    ]


def test_docstring_examples() -> None:
    result = doctest.testmod(genres_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
