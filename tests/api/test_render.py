"""The pre-encoded JSON of the hot path is byte for byte what pydantic would have written."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from movierec.api.render import CatalogueJson, MovieJson, compact_json, encode, format_scores
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


movie_records = st.builds(
    ItemRecord,
    movie_id=st.integers(1, 2**40),
    title=st.text(),
    year=st.none() | st.integers(1870, 2100),
    genres=st.lists(st.text(max_size=12), max_size=4),
    url=st.none() | st.text(max_size=30),
)


@given(st.lists(movie_records, min_size=1, max_size=5))
def test_each_movie_is_encoded_as_json_dumps_encodes_it(items: list[ItemRecord]) -> None:
    def dumped(item: ItemRecord, **members: object) -> str:
        entry = {"movie_id": item.movie_id, "title": item.title, **members}
        return compact_json(entry | {"year": item.year, "genres": item.genres})

    movies = MovieJson(items).array(list(range(len(items))), ["0.5"] * len(items))
    assert movies == f"[{','.join(dumped(item, score=0.5) for item in items)}]"
    catalogue = CatalogueJson(items)
    assert catalogue.entries == [
        compact_json(
            {
                "movie_id": item.movie_id,
                "title": item.title,
                "year": item.year,
                "genres": item.genres,
                "url": item.url,
            }
        )
        for item in items
    ]
