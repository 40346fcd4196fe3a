"""Readers for every MovieLens release, producing one canonical pair of frames.

`load_dataset(name, dataset_dir)` picks the reader by dataset name:

| dataset                                         | ratings / items                        |
|-------------------------------------------------|----------------------------------------|
| ml-100k                                         | `u.data` (tab) / `u.item` (pipe, flags) |
| ml-1m, ml-10m                                   | `ratings.dat` / `movies.dat` (`::`)     |
| ml-20m, ml-25m, ml-32m, ml-latest, ml-latest-small | `ratings.csv` / `movies.csv`        |

Items carry a `url`, a page about the movie, where the dataset gives one (else missing). ml-100k's
`u.item` links each movie to an IMDb title search of 1998, kept as today's IMDb search for the
same text; the CSV releases' optional `links.csv` (movieId, imdbId, tmdbId) gives the IMDb
title page, or the TMDB one for a movie without an imdbId. ml-1m and ml-10m link no page.

The ratings files (up to 32M rows) are read by pyarrow's multi-threaded CSV reader when they
are well-formed, else by pandas' C parser, which skips and counts malformed lines; either way
whole columns are validated at once. Malformed rows (wrong field count, non-numeric ids,
missing values, ratings outside 0.5..5) are skipped, counted and reported per file; a file
without one valid row is an error.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus, unquote_plus, urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from pandas.errors import ParserWarning

from movierec.data import DataError
from movierec.genres import split_genres

logger = logging.getLogger(__name__)

RATING_COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]
ITEM_COLUMNS = ["movie_id", "title", "year", "genres", "url"]
RATING_MIN, RATING_MAX = 0.5, 5.0
_EXTRA = "_extra_field"
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
# "Title (1995)", also "Title (2006-2007)" for series in ml-latest; the year is the first one.
TITLE_YEAR = r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-\u2013]\d{4})?\)$"
IMDB_SEARCH = "https://www.imdb.com/find/?q={}&s=tt"
IMDB_TITLE = "https://www.imdb.com/title/tt{:07d}/"
TMDB_MOVIE = "https://www.themoviedb.org/movie/{:d}"


class DatasetFormatError(DataError):
    """A dataset file is missing, unreadable or holds no valid row."""


@dataclass
class RawDataset:
    """One MovieLens release in canonical form.

    ratings: user_id, movie_id (int64), rating (float64), timestamp (int64, unix seconds).
    items: movie_id (int64), title (str, without " (YYYY)"), year (Int64), genres (list[str]),
        url (str, missing where the dataset links no page).
    malformed_rows: rows skipped over both files.
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    malformed_rows: int


@dataclass(frozen=True)
class _Table:
    """Where and how one delimited file is stored."""

    file: str
    sep: str
    encoding: str
    header: bool
    quoted: bool


@dataclass(frozen=True)
class _Layout:
    ratings: _Table
    items: _Table
    read_items: Callable[[_Table, Path], tuple[pd.DataFrame, int]]
    links: _Table | None = None


def _read_table(table: _Table, path: Path, names: list[str]) -> tuple[pd.DataFrame, int]:
    """Read `names` with the fields' inferred types; return them and the lines of wrong width.

    A sentinel column catches one field too many, even on the first line (which would
    otherwise set the width of the whole file); wider lines are skipped by the parser and
    counted from its warnings. The C parser has no multi-character separator, so `::` files
    are rewritten to tabs in memory first (no MovieLens field holds a tab).
    """
    source: Path | io.BytesIO = path
    sep = table.sep
    if sep == "::":
        source = io.BytesIO(path.read_bytes().replace(b"::", b"\t"))
        sep = "\t"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ParserWarning)
        try:
            frame = pd.read_csv(
                source,
                sep=sep,
                header=None,
                skiprows=1 if table.header else 0,
                names=[*names, _EXTRA],
                dtype={_EXTRA: "category"},
                index_col=False,
                encoding=table.encoding,
                encoding_errors="replace",
                quoting=csv.QUOTE_MINIMAL if table.quoted else csv.QUOTE_NONE,
                on_bad_lines="warn",
                engine="c",
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as exc:
            raise DatasetFormatError(
                f"{path}: cannot be read as a {table.file} file ({exc}); delete the dataset "
                "folder and run `movierec download` again"
            ) from exc
    messages = [str(w.message) for w in caught if w.category is ParserWarning]
    if any(message.startswith("Length of header") for message in messages):
        raise DatasetFormatError(
            f"{path}: its first line has more than {len(names) + 1} fields, which is not a "
            f"{table.file} file; delete the dataset folder and run `movierec download` again"
        )
    too_wide = frame[_EXTRA].notna().to_numpy()
    wrong_width = int(too_wide.sum()) + sum(m.count("Skipping line") for m in messages)
    return frame.loc[~too_wide, names], wrong_width


def _whole_numbers(values: pd.Series) -> np.ndarray:
    """Float view of a column; anything non-numeric becomes NaN."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _report(path: Path, skipped: int, total: int, what: str) -> None:
    if skipped:
        logger.warning("%s: skipped %d malformed row(s) of %d (%s)", path, skipped, total, what)


def _read_numeric(table: _Table, path: Path, names: list[str]) -> list[np.ndarray] | None:
    """Every field of a well-formed numeric file as float64 columns (missing values NaN), by
    pyarrow's multi-threaded reader; None when it refuses the file (a line of the wrong
    width, a non-numeric field), which the pandas reader then handles row by row."""
    source: Path | pa.BufferReader = path
    sep = table.sep
    if sep == "::":
        source = pa.BufferReader(path.read_bytes().replace(b"::", b"\t"))
        sep = "\t"
    try:
        arrow = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1 if table.header else 0, encoding=table.encoding
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=sep, quote_char='"' if table.quoted else False
            ),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float64())),
        )
    except (pa.ArrowInvalid, UnicodeError):
        return None
    return [arrow.column(name).to_numpy(zero_copy_only=False) for name in names]


def _read_ratings(table: _Table, directory: Path) -> tuple[pd.DataFrame, int]:
    path = directory / table.file
    columns = _read_numeric(table, path, RATING_COLUMNS)
    if columns is not None:
        user, movie, rating, stamp = columns
        wrong_width, total = 0, len(user)
    else:
        frame, wrong_width = _read_table(table, path, RATING_COLUMNS)
        user, movie, rating, stamp = (_whole_numbers(frame[c]) for c in RATING_COLUMNS)
        total = len(frame)
    with np.errstate(invalid="ignore"):
        valid = (
            (user >= 0)
            & (user == np.floor(user))
            & (movie >= 0)
            & (movie == np.floor(movie))
            & (rating >= RATING_MIN)
            & (rating <= RATING_MAX)
            & (stamp >= 0)
            & (stamp == np.floor(stamp))
        )
    skipped = wrong_width + int((~valid).sum())
    if not valid.any():
        raise DatasetFormatError(
            f"{path}: no valid rating row (expected user, movie, rating {RATING_MIN:g}..."
            f"{RATING_MAX:g}, timestamp); the file is damaged: delete {directory} and run "
            "`movierec download` again"
        )
    _report(
        path,
        skipped,
        total + wrong_width,
        "wrong field count, non-numeric or "
        f"missing value, or rating outside {RATING_MIN:g}..{RATING_MAX:g}",
    )
    ratings = pd.DataFrame(
        {
            "user_id": user[valid].astype(np.int64),
            "movie_id": movie[valid].astype(np.int64),
            "rating": rating[valid],
            "timestamp": stamp[valid].astype(np.int64),
        }
    )
    return ratings, skipped


def _valid_movie_rows(frame: pd.DataFrame, path: Path, wrong_width: int) -> tuple[np.ndarray, int]:
    """Mask of the rows with an integer movie id seen for the first time; rows skipped."""
    movie = _whole_numbers(frame["movie_id"])
    with np.errstate(invalid="ignore"):
        valid: np.ndarray = (movie >= 0) & (movie == np.floor(movie))
    valid &= ~pd.Series(movie).duplicated().to_numpy()
    if not valid.any():
        raise DatasetFormatError(
            f"{path}: no valid movie row; the file is damaged: delete {path.parent} and run "
            "`movierec download` again"
        )
    skipped = wrong_width + int((~valid).sum())
    _report(path, skipped, len(frame) + wrong_width, "wrong field count, bad or repeated id")
    return valid, skipped


def _title_and_year(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split "Title (1995)" into the title and a nullable year."""
    text = raw.fillna("").astype(str).str.strip()
    parts = text.str.extract(TITLE_YEAR)
    title = parts["title"].fillna(text).astype(str)
    year = pd.to_numeric(parts["year"], errors="coerce").astype("Int64")
    return title, year


def _item_frame(kept: pd.DataFrame, genres: list[list[str]]) -> pd.DataFrame:
    """Canonical items from the valid rows of an items file and their parsed genres."""
    title, year = _title_and_year(kept["title"])
    return pd.DataFrame(
        {
            "movie_id": _whole_numbers(kept["movie_id"]).astype(np.int64),
            "title": title,
            "year": year,
            "genres": genres,
            "url": pd.Series(pd.NA, index=kept.index, dtype="str"),
        }
    )


def _read_genre_list_items(table: _Table, directory: Path) -> tuple[pd.DataFrame, int]:
    """movies.dat / movies.csv: movie_id, "Title (Year)", "Genre|Genre"."""
    path = directory / table.file
    frame, wrong_width = _read_table(table, path, ["movie_id", "title", "genres"])
    keep, skipped = _valid_movie_rows(frame, path, wrong_width)
    kept = frame[keep].reset_index(drop=True)
    # Items are few (tens of thousands at most), so a loop over them is fine.
    return _item_frame(kept, [split_genres(text) for text in kept["genres"]]), skipped


def _ml100k_genres(directory: Path) -> list[str]:
    """Genre names in flag order, from u.genre ("name|index") when present."""
    path = directory / "u.genre"
    if not path.is_file():
        return list(ML100K_GENRES)
    pairs = [line.rsplit("|", 1) for line in path.read_text("latin-1").splitlines() if line]
    try:
        return [name for name, _ in sorted(pairs, key=lambda pair: int(pair[1]))]
    except (ValueError, IndexError) as exc:
        raise DatasetFormatError(
            f"{path}: expected lines 'genre|index' ({exc}); delete {directory} and run "
            "`movierec download` again"
        ) from exc


def imdb_search_url(legacy: object) -> str | None:
    """u.item's IMDb link as today's IMDb title search for the same text; None without one.

    The 1998 links encode the title in Latin-1 ("L%E9on+(1994)"); the new one in UTF-8.
    """
    if not isinstance(legacy, str):
        return None
    parts = urlsplit(legacy.strip())
    if not parts.hostname or not parts.hostname.endswith("imdb.com"):
        return None
    text = unquote_plus(parts.query, encoding="latin-1").strip()
    return IMDB_SEARCH.format(quote_plus(text)) if text else None


def _read_links(table: _Table, directory: Path) -> pd.Series:
    """links.csv as movie page URLs indexed by movie_id (IMDb first, else TMDB); rows without
    an id are left out. Empty when the release has no links file."""
    path = directory / table.file
    if not path.is_file():
        return pd.Series(dtype="str")
    frame, wrong_width = _read_table(table, path, ["movie_id", "imdb_id", "tmdb_id"])
    movie, imdb, tmdb = (_whole_numbers(frame[c]) for c in ("movie_id", "imdb_id", "tmdb_id"))
    with np.errstate(invalid="ignore"):
        valid = (movie >= 0) & (movie == np.floor(movie))
        has_imdb, has_tmdb = imdb > 0, tmdb > 0
    _report(path, wrong_width + int((~valid).sum()), len(frame) + wrong_width, "bad movie id")
    keep = valid & (has_imdb | has_tmdb)
    urls = [
        IMDB_TITLE.format(int(i)) if on_imdb else TMDB_MOVIE.format(int(t))
        for i, t, on_imdb in zip(imdb[keep], tmdb[keep], has_imdb[keep], strict=True)
    ]
    links = pd.Series(urls, index=movie[keep].astype(np.int64), dtype="str")
    return links[~links.index.duplicated()]


def _read_ml100k_items(table: _Table, directory: Path) -> tuple[pd.DataFrame, int]:
    """u.item: id|Title (Year)|release date|video date|url|one 0/1 flag per genre."""
    path = directory / table.file
    genres = _ml100k_genres(directory)
    flags = [f"flag_{i}" for i in range(len(genres))]
    names = ["movie_id", "title", "release_date", "video_release_date", "url", *flags]
    frame, wrong_width = _read_table(table, path, names)
    keep, skipped = _valid_movie_rows(frame, path, wrong_width)
    kept = frame[keep].reset_index(drop=True)
    on = kept[flags].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy() > 0
    names_array = np.array(genres, dtype=object)
    items = _item_frame(kept, [list(names_array[row]) for row in on])
    # Titles without "(YYYY)" fall back on the release date "01-Jan-1995".
    released = pd.to_numeric(
        kept["release_date"].astype(str).str.extract(r"(\d{4})\s*$")[0], errors="coerce"
    ).astype("Int64")
    items["year"] = items["year"].fillna(released)
    items["url"] = pd.Series([imdb_search_url(url) for url in kept["url"]], dtype="str")
    return items, skipped


_ML100K = _Layout(
    ratings=_Table("u.data", "\t", "latin-1", header=False, quoted=False),
    items=_Table("u.item", "|", "latin-1", header=False, quoted=False),
    read_items=_read_ml100k_items,
)
_ML1M = _Layout(
    ratings=_Table("ratings.dat", "::", "latin-1", header=False, quoted=False),
    items=_Table("movies.dat", "::", "latin-1", header=False, quoted=False),
    read_items=_read_genre_list_items,
)
_ML10M = _Layout(
    ratings=_Table("ratings.dat", "::", "utf-8", header=False, quoted=False),
    items=_Table("movies.dat", "::", "utf-8", header=False, quoted=False),
    read_items=_read_genre_list_items,
)
_CSV = _Layout(
    ratings=_Table("ratings.csv", ",", "utf-8", header=True, quoted=True),
    items=_Table("movies.csv", ",", "utf-8", header=True, quoted=True),
    read_items=_read_genre_list_items,
    links=_Table("links.csv", ",", "utf-8", header=True, quoted=True),
)
LAYOUTS: dict[str, _Layout] = {
    "ml-100k": _ML100K,
    "ml-1m": _ML1M,
    "ml-10m": _ML10M,
    "ml-20m": _CSV,
    "ml-25m": _CSV,
    "ml-32m": _CSV,
    "ml-latest": _CSV,
    "ml-latest-small": _CSV,
}
DATASET_NAMES: tuple[str, ...] = tuple(LAYOUTS)


def unknown_dataset_message(name: str) -> str:
    """The message for a dataset name no reader knows."""
    return (
        f"unknown dataset {name!r}: choose one of {', '.join(DATASET_NAMES)} "
        "(data.dataset in configs/data.yaml or MOVIEREC_DATA__DATASET)"
    )


def _layout(name: str) -> _Layout:
    if name not in LAYOUTS:
        raise DatasetFormatError(unknown_dataset_message(name))
    return LAYOUTS[name]


def data_files(name: str) -> tuple[str, str]:
    """The ratings and items file names of dataset `name`."""
    layout = _layout(name)
    return layout.ratings.file, layout.items.file


def load_dataset(name: str, dataset_dir: Path) -> RawDataset:
    """Read dataset `name` from its extracted folder (as `download_dataset` returns it)."""
    layout = _layout(name)
    for file in data_files(name):
        if not (dataset_dir / file).is_file():
            raise DatasetFormatError(
                f"{dataset_dir / file} not found: {dataset_dir} does not hold {name}; "
                "run `movierec download`"
            )
    ratings, bad_ratings = _read_ratings(layout.ratings, dataset_dir)
    items, bad_items = layout.read_items(layout.items, dataset_dir)
    if layout.links is not None:
        items["url"] = items["movie_id"].map(_read_links(layout.links, dataset_dir)).astype("str")
    return RawDataset(
        ratings=ratings, items=items[ITEM_COLUMNS], malformed_rows=bad_ratings + bad_items
    )
