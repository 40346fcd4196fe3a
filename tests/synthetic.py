"""Small synthetic MovieLens data with taste structure, written in the ml-100k layout.

Users belong to one of a few taste groups; each group prefers one block of movies (and its
genres). Collaborative models therefore beat popularity on it, which makes it a fair, fast
stand-in for the real data in tests. Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from benchmarks.generate import u_item_link, write

from movierec.data.loaders import imdb_search_url

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
    links = [
        u_item_link(m, f"{t} ({y})")
        for m, t, y in zip(items_df.movie_id, items_df.title, items_df.year, strict=True)
    ]
    items_df["url"] = pd.Series([imdb_search_url(link) for link in links], dtype="str")
    return SyntheticMovieLens(ratings_df, items_df)


def write_ml100k_zip(data: SyntheticMovieLens, directory: Path) -> dict[str, str]:
    """Write `directory/ml-100k.zip` in the official layout; return SHA-256 of its data files."""
    return write("ml-100k", data.ratings, data.items, directory)
