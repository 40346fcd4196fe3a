"""Real, valid production bundles built from small data, for tests of everything that serves.

The project's own models are fitted in a fraction of a second: ALS for the "embeddings"
scorer, item-item cosine for the "item_weights" scorer. The bundle itself is built by
`movierec.training.bundle.build_bundle`, the function training uses, with the /similar
table at shrinkage 10 and popularity penalty 0.4; so a bundle here is exactly what export
writes, without the minute of MLflow and evaluation a full pipeline run would add to a test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.artifacts import ItemRecord, Scorer
from movierec.config import SimilarSettings, TrainingSettings
from movierec.data.mappings import IdMapping
from movierec.data.mappings import interaction_matrix as mapped_matrix
from movierec.models import Recommender, create_model
from movierec.training.bundle import build_bundle as build_production_bundle
from tests.synthetic import generate

SIMILAR = {"shrinkage": 10.0, "popularity_penalty": 0.4, "neighbours": 100}
TRAINING = TrainingSettings(similar=SimilarSettings(**SIMILAR))


def ids_of(ratings: pd.DataFrame, items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The sorted user ids of `ratings` and movie ids of `items`: the bundle's rows and columns."""
    return np.sort(ratings["user_id"].unique()), np.sort(items["movie_id"].unique())


def interaction_matrix(
    ratings: pd.DataFrame, user_ids: np.ndarray, item_ids: np.ndarray
) -> sp.csr_matrix:
    """Binary user x item CSR matrix (rows in `user_ids` order, columns in `item_ids` order),
    as the bundle's `user_items` holds it."""
    return _binary(ratings, IdMapping(user_ids), IdMapping(item_ids))


def _binary(ratings: pd.DataFrame, users: IdMapping, movies: IdMapping) -> sp.csr_matrix:
    matrix = mapped_matrix(ratings.assign(seen=1.0), users, movies, value="seen")
    matrix.data[:] = 1.0  # binary, however often a pair repeats
    return matrix


def write_bundle(
    directory: Path,
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    model: Recommender,
    version: str,
    dataset: str = "synthetic",
) -> Path:
    """The bundle of `model`, fitted on the `interaction_matrix` of `ratings`, into `directory`
    (created if needed), made by training's own `build_bundle`."""
    directory.mkdir(parents=True, exist_ok=True)
    users = IdMapping.from_ids(ratings["user_id"])
    movies = IdMapping.from_ids(items["movie_id"])
    by_id = items.set_index("movie_id")
    links = by_id["url"].dropna().to_dict() if "url" in by_id else {}
    catalogue = [
        ItemRecord(
            movie_id=int(movie_id),
            title=str(by_id.at[movie_id, "title"]),
            year=None if pd.isna(by_id.at[movie_id, "year"]) else int(by_id.at[movie_id, "year"]),
            genres=list(by_id.at[movie_id, "genres"]),
            url=links.get(movie_id),
        )
        for movie_id in movies.ids
    ]
    bundle, index_bytes = build_production_bundle(
        model,
        _binary(ratings, users, movies),
        users,
        movies,
        catalogue,
        TRAINING,
        dataset=dataset,
        split_strategy="none",
        version=version,
    )
    bundle.write(directory, index_bytes)
    return directory


def build_bundle(
    directory: Path,
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    scorer: Scorer = "embeddings",
    seed: int = 0,
    dim: int = 16,
    version: str | None = None,
    dataset: str = "synthetic",
) -> Path:
    """Write a bundle for `ratings` (user_id, movie_id, ...) and `items` (movie_id, title,
    year, genres, optional url) into `directory` (created if needed) and return it."""
    matrix = interaction_matrix(ratings, *ids_of(ratings, items))
    dim = min(dim, min(matrix.shape) - 1)
    kind = "als" if scorer == "embeddings" else "item_item"
    params = (
        {"factors": dim, "regularization": 1.0, "iterations": 10, "weighting": "none", "seed": seed}
        if kind == "als"
        else {"neighbours": 100, "embedding_dim": dim}
    )
    model = create_model(kind, **params).fit(matrix)
    version = version or f"{dataset}-{scorer}-{seed}"
    return write_bundle(directory, ratings, items, model, version, dataset)


def build_synthetic_bundle(
    directory: Path, scorer: Scorer = "embeddings", seed: int = 0, version: str | None = None
) -> Path:
    """A bundle over `tests.synthetic.generate()` data (120 users, 90 movies) in `directory`."""
    data = generate()
    return build_bundle(directory, data.ratings, data.items, scorer, seed, version=version)
