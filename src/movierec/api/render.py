"""JSON bodies of /recommend, /similar and /popular, encoded without pydantic on the hot path.

Everything about a movie except its score (id, title, year, genres) is encoded once per model
by `MovieJson`; an answer only splices the scores in. Routes return these bytes as a
`Response`, so FastAPI neither re-validates nor re-serialises them; the routes' pydantic
`response_model`s still document the answers, and the API tests validate every body against
them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from fastapi import Response

from movierec.artifacts import ItemRecord


class MovieJson:
    """Pre-encoded `Movie` objects: the JSON before and after the score, one pair per column."""

    def __init__(self, items: Sequence[ItemRecord]) -> None:
        self.heads = [
            json.dumps({"movie_id": item.movie_id, "title": item.title})[:-1] + ',"score":'
            for item in items
        ]
        self.tails = [
            "," + json.dumps({"year": item.year, "genres": list(item.genres)})[1:] for item in items
        ]

    def array(self, columns: list[int], scores: list[float]) -> str:
        """The JSON array of the movies in `columns` with their `scores`, in that order."""
        heads, tails = self.heads, self.tails
        pairs = zip(columns, scores, strict=True)
        movies = ",".join([f"{heads[column]}{score!r}{tails[column]}" for column, score in pairs])
        return f"[{movies}]"


def json_object(**encoded: str) -> Response:
    """An `application/json` answer holding one object whose values are already JSON text."""
    body = ",".join([f'"{name}":{value}' for name, value in encoded.items()])
    return Response(f"{{{body}}}".encode(), media_type="application/json")


LITERALS = {True: "true", False: "false", None: "null"}


def encode(value: str | int | bool | None) -> str:
    """One JSON scalar."""
    if value is None or value is True or value is False:
        return LITERALS[value]
    return str(value) if type(value) is int else json.dumps(value)
