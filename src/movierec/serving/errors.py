"""The engine's domain errors: what a query asked that the loaded model cannot answer.

They name query fields by their domain path, such as ("k",) or ("filters", "genres", 0),
never by where a transport carried them; `movierec.api.errors` maps them to HTTP answers.
"""

from __future__ import annotations

from collections.abc import Sequence

Field = tuple[str | int, ...]


class QueryError(Exception):
    """Base of the errors a query can meet; the message says what to change."""


class InvalidQueryError(QueryError):
    """A well-typed field whose value the model cannot take (an unknown genre, k above max_k).

    >>> error = InvalidQueryError(("filters", "genres", 0), "unknown genre 'Noir'", "Noir")
    >>> error.field, str(error)
    (('filters', 'genres', 0), "unknown genre 'Noir'")
    """

    def __init__(self, field: Sequence[str | int], message: str, value: object) -> None:
        super().__init__(message)
        self.field: Field = tuple(field)
        self.message = message
        self.value = value


class UnknownMovieError(QueryError):
    """The movie id is not in the loaded model's catalogue."""

    def __init__(self, movie_id: int) -> None:
        super().__init__(f"movie_id {movie_id} is not in the catalogue of the loaded model")
        self.movie_id = movie_id
