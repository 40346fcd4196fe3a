"""load_dataset on small files of every MovieLens layout, malformed rows included."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import get_args

import pandas as pd
import pytest

from movierec.config import DatasetName
from movierec.data.loaders import DATASET_NAMES, DatasetFormatError, load_dataset

RATING_DTYPES = {"user_id": "int64", "movie_id": "int64", "rating": "float64", "timestamp": "int64"}


def _write(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return directory


def _assert_canonical(ratings: pd.DataFrame, items: pd.DataFrame) -> None:
    assert {c: str(t) for c, t in ratings.dtypes.items()} == RATING_DTYPES
    assert list(items.columns) == ["movie_id", "title", "year", "genres", "url"]
    assert str(items["movie_id"].dtype) == "int64"
    assert str(items["year"].dtype) == "Int64"
    assert str(items["url"].dtype) == "str"
    assert all(isinstance(g, list) for g in items["genres"])


def _item(items: pd.DataFrame, movie_id: int) -> pd.Series:
    return items.set_index("movie_id").loc[movie_id]


def test_every_configurable_dataset_has_a_reader() -> None:
    assert set(DATASET_NAMES) == set(get_args(DatasetName))


def test_ml1m_dat_files_with_malformed_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = _write(
        tmp_path / "ml-1m",
        {
            "ratings.dat": (
                b"1::1193::5::978300760\n"
                b"1::661::3::978302109\n"
                b"2::x::3::978300000\n"  # non-numeric movie id
                b"2::661::7::978300001\n"  # rating out of range
                b"3::661::4\n"  # a field missing
                b"3::661::4::978300002::9\n"  # a field too many
                b"4::1193::2::978300003\n"
            ),
            "movies.dat": (
                "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                "661::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Sci-Fi\n"
                "73::Misérables, Les (1995)::Drama|Musical\n"
            ).encode("latin-1"),
        },
    )

    with caplog.at_level(logging.WARNING):
        data = load_dataset("ml-1m", directory)

    _assert_canonical(data.ratings, data.items)
    assert data.ratings.values.tolist() == [
        [1, 1193, 5, 978300760],
        [1, 661, 3, 978302109],
        [4, 1193, 2, 978300003],
    ]
    assert data.malformed_rows == 4
    assert "ratings.dat: skipped 4 malformed row(s)" in caplog.text
    star_wars = _item(data.items, 661)
    assert star_wars["title"] == "Star Wars: Episode IV - A New Hope"
    assert star_wars["year"] == 1977
    assert star_wars["genres"] == ["Action", "Adventure", "Sci-Fi"]
    assert _item(data.items, 73)["title"] == "Misérables, Les"
    assert data.items["url"].isna().all()  # ml-1m links no page


def test_ml_latest_small_csv(tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "ml-latest-small",
        {
            "ratings.csv": (
                b"userId,movieId,rating,timestamp\n"
                b"1,1,4.0,964982703\n"
                b"1,3,0.5,964981247\n"
                b"2,1,,964982224\n"  # missing rating
                b"2,3,5.5,964982224\n"  # out of range
                b"2,4,3.5,964982931\n"
            ),
            "movies.csv": (
                "movieId,title,genres\n"
                '1,"American President, The (1995)",Comedy|Drama|Romance\n'
                "3,(500) Days of Summer (2009),Comedy|Drama\n"
                "4,Cosmos,(no genres listed)\n"
                "5,Babylon 5 (1994) ,Sci-Fi\n"
                "6,Olympic Games (2004\u20132008),Documentary\n"
                "x,Broken row,Drama\n"
            ).encode(),
        },
    )

    data = load_dataset("ml-latest-small", directory)

    _assert_canonical(data.ratings, data.items)
    assert data.ratings["rating"].tolist() == [4.0, 0.5, 3.5]
    assert data.malformed_rows == 3  # two ratings and one movie
    assert _item(data.items, 1)["title"] == "American President, The"
    assert _item(data.items, 3)["title"] == "(500) Days of Summer"
    cosmos = _item(data.items, 4)
    assert (cosmos["title"], cosmos["genres"]) == ("Cosmos", [])
    assert pd.isna(cosmos["year"])
    assert (_item(data.items, 5)["title"], _item(data.items, 5)["year"]) == ("Babylon 5", 1994)
    assert _item(data.items, 6)["year"] == 2004
    assert data.items["url"].isna().all()  # no links.csv: no page


def test_csv_links_give_the_imdb_page_else_the_tmdb_one(tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "ml-25m",
        {
            "ratings.csv": b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n",
            "movies.csv": (
                b"movieId,title,genres\n"
                b"1,Toy Story (1995),Animation\n"
                b"2,Jumanji (1995),Adventure\n"
                b"3,Unlinked (2001),Drama\n"
                b"4,No ids (2002),Drama\n"
                b"5,Big id (2019),Drama\n"
            ),
            "links.csv": (
                b"movieId,imdbId,tmdbId\n"
                b"1,0114709,862\n"
                b"2,,8844\n"  # no IMDb id: the TMDB page
                b"4,,\n"
                b"5,10872600,\n"  # IMDb ids have 7 or 8 digits
                b"x,0000001,1\n"  # a bad movie id is skipped
            ),
        },
    )

    data = load_dataset("ml-25m", directory)

    _assert_canonical(data.ratings, data.items)
    items = data.items

    urls = items.set_index("movie_id")["url"].dropna().to_dict()
    assert urls == {
        1: "https://www.imdb.com/title/tt0114709/",
        2: "https://www.themoviedb.org/movie/8844",
        5: "https://www.imdb.com/title/tt10872600/",
    }  # movies 3 (not in links.csv) and 4 (no id) link no page


def test_ml100k_flags_genres_and_release_date(tmp_path: Path) -> None:
    genres = b"unknown|0\nAction|1\nComedy|2\n"
    directory = _write(
        tmp_path / "ml-100k",
        {
            "u.data": b"196\t242\t3\t881250949\n186\t302\t3\t891717742\nbad line\n",
            "u.item": (
                "242|Kolya (1996)|24-Jan-1997||"
                "http://us.imdb.com/M/title-exact?Kolya%20(1996)|0|0|1\n"
                "302|L.A. Confidential|01-Jan-1997||http://x|0|1|1\n"
                "303|Café Society (1995)|01-Jan-1995||"
                "http://us.imdb.com/Title?Caf%E9+Society+(1995)|1|0|0\n"
                "304|Unlinked (1995)|01-Jan-1995|||1|0|0\n"
            ).encode("latin-1"),
            "u.genre": genres,
        },
    )

    data = load_dataset("ml-100k", directory)

    _assert_canonical(data.ratings, data.items)
    assert len(data.ratings) == 2
    assert data.malformed_rows == 1
    kolya = _item(data.items, 242)
    assert (kolya["title"], kolya["year"], kolya["genres"]) == ("Kolya", 1996, ["Comedy"])
    confidential = _item(data.items, 302)
    assert confidential["year"] == 1997  # from the release date: the title has no year
    assert confidential["genres"] == ["Action", "Comedy"]
    assert _item(data.items, 303)["title"] == "Café Society"
    # The 1998 IMDb links become today's IMDb search for the same (UTF-8 encoded) text.
    assert kolya["url"] == "https://www.imdb.com/find/?q=Kolya+%281996%29&s=tt"
    cafe = "https://www.imdb.com/find/?q=Caf%C3%A9+Society+%281995%29&s=tt"
    assert _item(data.items, 303)["url"] == cafe
    assert pd.isna(confidential["url"])  # not an IMDb link
    assert pd.isna(_item(data.items, 304)["url"])


def test_a_file_without_valid_rows_is_an_error_naming_it(tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "ml-1m",
        {"ratings.dat": b"a::b::c::d\n1::2::9::3\n", "movies.dat": b"1::Film (1990)::Drama\n"},
    )

    with pytest.raises(DatasetFormatError, match=r"ratings\.dat: no valid rating row"):
        load_dataset("ml-1m", directory)


def test_missing_file_says_to_download(tmp_path: Path) -> None:
    directory = _write(tmp_path / "ml-25m", {"ratings.csv": b"userId,movieId,rating,timestamp\n"})

    with pytest.raises(DatasetFormatError, match=r"movies\.csv not found.*movierec download"):
        load_dataset("ml-25m", directory)


def test_unknown_dataset_name_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"unknown dataset 'ml-2k'.*ml-latest-small"):
        load_dataset("ml-2k", tmp_path)


def test_a_first_line_with_a_field_too_many_is_skipped(tmp_path: Path) -> None:
    """The first line sets the parser's width: it must not truncate its extra field silently."""
    directory = _write(
        tmp_path / "ml-1m",
        {
            "ratings.dat": b"1::10::5::978300760::extra\n2::10::3::978300761\n",
            "movies.dat": b"10::Film (1990)::Drama\n",
        },
    )

    data = load_dataset("ml-1m", directory)

    assert data.ratings["user_id"].tolist() == [2]
    assert data.malformed_rows == 1
