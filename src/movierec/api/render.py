"""JSON bodies of /recommend, /similar and /popular, encoded without pydantic on the hot path.

Everything about a movie except its score (id, title, year, genres) is encoded once per model
by `MovieJson`; an answer only splices the scores in. Routes return these bytes as a
`Response`, so FastAPI neither re-validates nor re-serialises them; the routes' pydantic
`response_model`s still document the answers, and the API tests validate every body against
them. The text has the compact form of the API's other answers (pydantic's and Starlette's):
no spaces between tokens, non-ASCII characters written as UTF-8 rather than escaped.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from json.encoder import encode_basestring

from fastapi import Response

from movierec.artifacts import ItemRecord
from movierec.serving.engine import SimilarMovies

compact_json = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)


def _movie_fields(item: ItemRecord) -> tuple[str, str, str, str]:
    """The JSON values of a movie's id, title, year and genres, as `compact_json` writes them;
    written directly, since one `json.dumps` call per movie (59k at ml-25m size, three times
    over) took about half a second of every model load."""
    year = "null" if item.year is None else str(int(item.year))
    genres = ",".join([encode_basestring(genre) for genre in item.genres])
    return str(int(item.movie_id)), encode_basestring(item.title), year, f"[{genres}]"


class MovieJson:
    """Pre-encoded `Movie` objects: the JSON before and after the score, one pair per column."""

    def __init__(self, items: Sequence[ItemRecord]) -> None:
        fields = list(map(_movie_fields, items))
        self.heads = [
            f'{{"movie_id":{movie},"title":{title},"score":' for movie, title, _, _ in fields
        ]
        self.tails = [f',"year":{year},"genres":{genres}}}' for _, _, year, genres in fields]

    def array(self, columns: list[int], scores: list[str], extras: list[str] | None = None) -> str:
        """The JSON array of the movies in `columns` with their `scores` (JSON numbers, see
        `format_scores`), in that order; `extras` adds encoded members to each movie."""
        heads, tails = self.heads, self.tails
        pairs = zip(columns, scores, strict=True)
        if extras is None:
            movies = ",".join([f"{heads[column]}{score}{tails[column]}" for column, score in pairs])
        else:
            ends = [f"{tails[c][:-1]},{extra}}}" for c, extra in zip(columns, extras, strict=True)]
            movies = ",".join([f"{heads[c]}{s}{e}" for (c, s), e in zip(pairs, ends, strict=True)])
        return f"[{movies}]"


class CatalogueJson:
    """The /movies catalogue encoded once per model: one JSON object per movie, the whole
    list's bytes, and an entity tag that changes whenever the catalogue does."""

    def __init__(self, items: Sequence[ItemRecord]) -> None:
        self.entries = [
            f'{{"movie_id":{movie},"title":{title},"year":{year},"genres":{genres},"url":{url}}}'
            for (movie, title, year, genres), url in zip(
                map(_movie_fields, items),
                ["null" if item.url is None else encode_basestring(item.url) for item in items],
                strict=True,
            )
        ]
        self.total = len(self.entries)
        self.full = self._page(0, None)
        self.tag = hashlib.sha256(self.full).hexdigest()[:24]

    def _page(self, offset: int, limit: int | None) -> bytes:
        end = self.total if limit is None else offset + limit
        movies = ",".join(self.entries[offset:end])
        shown = "null" if limit is None else str(limit)
        meta = f'"total":{self.total},"offset":{offset},"limit":{shown}'
        return f'{{"movies":[{movies}],{meta}}}'.encode()

    def page(self, offset: int, limit: int | None) -> bytes:
        """The JSON of `limit` movies (all when None) from `offset` in catalogue order."""
        return self.full if offset == 0 and limit is None else self._page(offset, limit)

    def etag(self, offset: int, limit: int | None) -> str:
        return f'"{self.tag}-{offset}-{limit if limit is not None else "all"}"'


# Scores are float32: about 7 significant digits carry information, and formatting to a fixed
# precision takes half the time of `repr`'s shortest round trip (10 of them per answer).
format_score = "{:.7g}".format


def format_scores(scores: list[float]) -> list[str]:
    """Scores as JSON numbers with 7 significant digits."""
    return list(map(format_score, scores))


class JSONBytes(Response):
    """A 200 `application/json` answer of bytes already encoded: Starlette's `Response`
    without its general header handling, which costs as much as the whole body does."""

    media_type = "application/json"

    def __init__(self, body: bytes) -> None:  # sets what `Response.__call__` reads
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]


def json_object(**encoded: str) -> Response:
    """An `application/json` answer holding one object whose values are already JSON text."""
    body = ",".join([f'"{name}":{value}' for name, value in encoded.items()])
    return JSONBytes(f"{{{body}}}".encode())


LITERALS = {True: "true", False: "false", None: "null"}


@functools.lru_cache(maxsize=4096)
def _encode_text(value: str) -> str:
    return compact_json(value)


def encode(value: str | int | bool | None) -> str:
    """One JSON scalar (strings, such as model versions and titles, are remembered)."""
    if value is None or value is True or value is False:
        return LITERALS[value]
    return str(value) if type(value) is int else _encode_text(value)


def because_members(because: list[list[int]], items: Sequence[ItemRecord]) -> list[str]:
    """Per recommended movie, its encoded `because` member: the movies (column lists) of the
    user's history that explain it, with their titles."""
    reasons = [
        [compact_json({"movie_id": items[c].movie_id, "title": items[c].title}) for c in columns]
        for columns in because
    ]
    return [f'"because":[{",".join(movies)}]' for movies in reasons]


def similar_reasons(similar: SimilarMovies) -> list[str]:
    """Per similar movie, the encoded members that say why it is there (for `MovieJson.array`):
    the audience it shares with the seed, that audience's share, and the shared genres."""
    audience = similar.audience
    return [
        f'"shared_audience":{shared},"audience_share":{shared / audience:.4g},'
        f'"shared_genres":[{",".join([_encode_text(genre) for genre in genres])}]'
        for shared, genres in zip(similar.shared, similar.shared_genres, strict=True)
    ]
