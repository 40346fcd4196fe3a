"""The pre-encoded JSON of the hot path is byte for byte what pydantic would have written."""

from __future__ import annotations

from movierec.api.render import MovieJson, encode, format_scores
from movierec.api.schemas import Movie
from movierec.artifacts import ItemRecord

ITEMS = [
    ItemRecord(movie_id=7, title="Misérables, Les (1995)", year=1995, genres=["Drama", "War"]),
    ItemRecord(movie_id=9, title='"Quoted" \\ title', year=None, genres=[]),
]


def test_movies_are_encoded_as_pydantic_encodes_them() -> None:
    scores = [0.25, -1.5]
    encoded = MovieJson(ITEMS).array([1, 0], format_scores(scores))

    movies = [
        Movie(
            movie_id=item.movie_id,
            title=item.title,
            score=score,
            year=item.year,
            genres=item.genres,
        )
        for item, score in zip([ITEMS[1], ITEMS[0]], scores, strict=True)
    ]
    assert encoded == f"[{','.join(movie.model_dump_json() for movie in movies)}]"


def test_text_scalars_keep_non_ascii_characters() -> None:
    assert encode("Misérables") == '"Misérables"'
    assert (encode(3), encode(True), encode(None)) == ("3", "true", "null")
