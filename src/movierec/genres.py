"""Genre names: the one parser and writer of their "A|B" text, and the genres of a catalogue.

MovieLens' movies.csv and movies.dat and the features file write a movie's genres as "A|B";
"(no genres listed)" and an empty text mean none. `distinct_genres` is the sorted set of a
catalogue's genres, as the filters, the frontend and the traffic simulator offer them.

    >>> split_genres("Comedy|Romance"), split_genres("(no genres listed)")
    (['Comedy', 'Romance'], [])
    >>> join_genres(["Comedy", "Romance"])
    'Comedy|Romance'
    >>> distinct_genres([["Drama"], ["Comedy", "Drama"]])
    ['Comedy', 'Drama']
"""

from __future__ import annotations

from collections.abc import Iterable

SEPARATOR = "|"
NO_GENRES = "(no genres listed)"


def split_genres(text: object) -> list[str]:
    """The genres of one "A|B" text; a value that is not text (a missing one) has none."""
    if not isinstance(text, str):
        return []
    return [genre for genre in text.split(SEPARATOR) if genre and genre != NO_GENRES]


def join_genres(genres: Iterable[str]) -> str:
    """The "A|B" text of a movie's genres."""
    return SEPARATOR.join(genres)


def distinct_genres(genre_lists: Iterable[Iterable[str]]) -> list[str]:
    """Every genre that any of the movies has, sorted."""
    return sorted({genre for genres in genre_lists for genre in genres})
