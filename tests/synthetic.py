"""Small synthetic MovieLens data with taste structure, written in the ml-100k layout.

Users belong to one of a few taste groups; each group prefers one block of movies (and its
genres). Collaborative models therefore beat popularity on it, which makes it a fair, fast
stand-in for the real data in tests. Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from movierec.data.loaders import ML100K_GENRES, imdb_search_url

GROUP_GENRES = [["Action", "Sci-Fi"], ["Comedy", "Romance"], ["Drama", "War"], ["Horror"]]
START_TS = 874_724_710  # 1997-09-20, like ml-100k


@dataclass
class SyntheticMovieLens:
    """Ratings (user_id, movie_id, rating, timestamp) and items (movie_id, title, year, genres,
    url: the page u.item's IMDb link leads to, for odd movie ids only)."""

    ratings: pd.DataFrame
    items: pd.DataFrame


def generate(
    n_users: int = 120, n_items: int = 90, per_user: int = 30, seed: int = 7
) -> SyntheticMovieLens:
    """Ratings with group structure; ids start at 1 as in MovieLens."""
    rng = np.random.default_rng(seed)
    n_groups = len(GROUP_GENRES)
    item_group = np.arange(n_items) % n_groups
    user_group = rng.integers(0, n_groups, n_users)
    # A few blockbusters everyone may watch keep popularity a sensible baseline.
    blockbusters = rng.choice(n_items, size=max(2, n_items // 15), replace=False)
    rows = []
    for user in range(n_users):
        own = np.flatnonzero(item_group == user_group[user])
        other = np.flatnonzero(item_group != user_group[user])
        n_own = int(per_user * 0.75)
        picks = np.concatenate(
            [
                rng.choice(own, size=min(n_own, len(own)), replace=False),
                rng.choice(other, size=per_user - n_own, replace=False),
                blockbusters,
            ]
        )
        picks = np.unique(picks)
        liked = item_group[picks] == user_group[user]
        ratings = np.where(liked, rng.integers(4, 6, len(picks)), rng.integers(1, 4, len(picks)))
        times = START_TS + np.sort(rng.integers(0, 200 * 86_400, len(picks)))
        for movie, rating, ts in zip(rng.permutation(picks), ratings, times, strict=True):
            rows.append((user + 1, int(movie) + 1, int(rating), int(ts)))
    ratings_df = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])
    items_df = pd.DataFrame(
        {
            "movie_id": np.arange(1, n_items + 1),
            "title": [f"Synthetic Movie {i + 1}" for i in range(n_items)],
            "year": 1980 + (np.arange(n_items) % 20),
            "genres": [GROUP_GENRES[g] for g in item_group],
        }
    )
    links = [_u_item_link(row) for row in items_df.itertuples(index=False)]
    items_df["url"] = pd.Series([imdb_search_url(link) for link in links], dtype="str")
    return SyntheticMovieLens(ratings_df, items_df)


def _u_item_link(row: Any) -> str:
    """The IMDb link of an odd movie id as ml-100k's u.item writes it; none for even ids."""
    if row.movie_id % 2 == 0:
        return ""
    return f"http://us.imdb.com/M/title-exact?{quote(f'{row.title} ({row.year})')}"


def _u_item_lines(items: pd.DataFrame) -> list[str]:
    lines = []
    for row in items.itertuples(index=False):
        flags = ["1" if genre in row.genres else "0" for genre in ML100K_GENRES]
        title = f"{row.title} ({row.year})"
        link = _u_item_link(row)
        lines.append(
            "|".join([str(row.movie_id), title, f"01-Jan-{row.year}", "", link])
            + "|"
            + "|".join(flags)
        )
    return lines


def write_ml100k_zip(data: SyntheticMovieLens, directory: Path) -> dict[str, str]:
    """Write `directory/ml-100k.zip` in the official layout; return SHA-256 of u.data and u.item."""
    directory.mkdir(parents=True, exist_ok=True)
    u_data = "".join(
        f"{r.user_id}\t{r.movie_id}\t{r.rating}\t{r.timestamp}\n"
        for r in data.ratings.itertuples(index=False)
    ).encode()
    u_item = ("\n".join(_u_item_lines(data.items)) + "\n").encode("latin-1")
    u_genre = "".join(f"{g}|{i}\n" for i, g in enumerate(ML100K_GENRES)).encode()
    with zipfile.ZipFile(directory / "ml-100k.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-100k/u.data", u_data)
        archive.writestr("ml-100k/u.item", u_item)
        archive.writestr("ml-100k/u.genre", u_genre)
        archive.writestr("ml-100k/README", b"Synthetic MovieLens-shaped data for tests.\n")
    return {
        "u.data": hashlib.sha256(u_data).hexdigest(),
        "u.item": hashlib.sha256(u_item).hexdigest(),
    }
