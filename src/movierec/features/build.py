"""Item features: catalogue data, rating statistics and genre one-hot.

`features_dir/item_features.parquet` has one row per processed item (ascending movie_id):
the catalogue columns of `movierec.data.parquet.ITEMS` (movie_id, title, year, genres as a
list, url: a page about the movie, missing when the dataset links none), n_ratings (int64),
mean_rating (float64), then one 0/1 `genre_<name>` column (int8) per genre (names as in the
dataset, sorted).

Statistics come from the TRAIN part only, so nothing about validation or test leaks into
features. `mean_rating` of an item without training ratings is the global train mean.
`n_ratings` is the item's popularity in the one sense the project gives the word: the number
of interactions, which the popularity model (`movierec.models.popularity`) ranks by and the
bundle's `popularity.json` holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from movierec.config import DataSettings
from movierec.data import staging_path
from movierec.data.parquet import ITEMS, write_frame
from movierec.data.preprocess import load_processed
from movierec.genres import split_genres

FEATURES_FILE = "item_features.parquet"
STATISTICS = [pa.field("n_ratings", pa.int64()), pa.field("mean_rating", pa.float64())]


def _genre_lists(genres: pd.Series) -> list[list[str]]:
    """Accept genres as lists or as "A|B" strings."""
    return [value if isinstance(value, list) else split_genres(value) for value in genres]


def build_item_features(items: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """Features of every item in `items` (movie_id, title, year, genres, optional url) from
    `train` ratings."""
    catalogue = items.sort_values("movie_id").reset_index(drop=True)
    genres = _genre_lists(catalogue["genres"])
    stats = train.groupby("movie_id")["rating"].agg(["size", "sum"])
    stats = stats.reindex(catalogue["movie_id"], fill_value=0)
    n_ratings = stats["size"].to_numpy(dtype=np.int64)
    rating_sum = stats["sum"].to_numpy(dtype=np.float64)
    global_mean = float(train["rating"].mean()) if len(train) else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_rating = np.where(n_ratings > 0, rating_sum / n_ratings, global_mean)
    features = pd.DataFrame(
        {
            "movie_id": catalogue["movie_id"].to_numpy(dtype=np.int64),
            "title": catalogue["title"].to_numpy(),
            "year": catalogue["year"].astype("Int64").to_numpy(),
            "genres": genres,
            "url": catalogue["url"].to_numpy() if "url" in catalogue else None,
            "n_ratings": n_ratings,
            "mean_rating": mean_rating,
        }
    )
    exploded = pd.Series(genres, index=features.index).explode().dropna()
    one_hot = pd.crosstab(exploded.index, exploded).reindex(features.index, fill_value=0)
    one_hot = one_hot.reindex(sorted(one_hot.columns), axis=1).clip(upper=1).astype(np.int8)
    one_hot.columns = [f"genre_{name}" for name in one_hot.columns]
    return pd.concat([features, one_hot], axis=1)


def run_build_features(settings: DataSettings) -> Path:
    """Write `features_dir/item_features.parquet` (atomically) from the processed data."""
    processed = load_processed(settings.processed_dir)
    features = build_item_features(processed.items, processed.train)
    settings.features_dir.mkdir(parents=True, exist_ok=True)
    target = settings.features_dir / FEATURES_FILE
    staged = staging_path(target)
    try:
        one_hot = [pa.field(c, pa.int8()) for c in features.columns if c.startswith("genre_")]
        write_frame(features, staged, pa.schema([*ITEMS, *STATISTICS, *one_hot]))
        staged.replace(target)
    finally:
        staged.unlink(missing_ok=True)
    return target
