"""Real, valid production bundles built from small data, for tests of everything that serves.

The project's own models are fitted in a fraction of a second (ALS for the "embeddings"
scorer, item-item cosine for the "item_weights" scorer, or any fitted model given) and the
bundle is made by training's own `build_bundle`, from a features file that the features stage
builds, so a bundle here is exactly what export writes, without the minute of MLflow and
evaluation a full pipeline run would add to a test. The similar-items table uses shrinkage 10
and popularity penalty 0.4 (`SIMILAR`); popularity is the popularity model's.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.artifacts import ModelMetadata, Scorer
from movierec.config import load_settings
from movierec.data.mappings import IdMapping
from movierec.features.build import FEATURES_FILE, build_item_features
from movierec.models import Recommender, create_model
from movierec.training.train import TrainingData
from movierec.training.train import build_bundle as build_training_bundle
from tests.synthetic import generate

SIMILAR = {"shrinkage": 10.0, "popularity_penalty": 0.4, "neighbours": 100}


def interaction_matrix(
    ratings: pd.DataFrame, user_ids: np.ndarray, item_ids: np.ndarray
) -> sp.csr_matrix:
    """Binary user x item CSR matrix (rows in `user_ids` order, columns in `item_ids` order)."""
    rows = pd.Index(user_ids).get_indexer(ratings["user_id"])
    cols = pd.Index(item_ids).get_indexer(ratings["movie_id"])
    keep = (rows >= 0) & (cols >= 0)
    data = np.ones(int(keep.sum()), dtype=np.float32)
    matrix = sp.csr_matrix(
        (data, (rows[keep], cols[keep])), shape=(len(user_ids), len(item_ids)), dtype=np.float32
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def ids_of(ratings: pd.DataFrame, items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The sorted user ids of `ratings` and movie ids of `items`: the bundle's rows and columns."""
    return np.sort(ratings["user_id"].unique()), np.sort(items["movie_id"].unique())


def write_bundle(
    directory: Path,
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    model: Recommender,
    version: str,
    dataset: str = "synthetic",
) -> Path:
    """The bundle of `model`, fitted on the `interaction_matrix` of `ratings`, into `directory`
    (created if needed), made as training makes it."""
    directory.mkdir(parents=True, exist_ok=True)
    user_ids, item_ids = ids_of(ratings, items)
    matrix = interaction_matrix(ratings, user_ids, item_ids)
    empty = sp.csr_matrix(matrix.shape, dtype=np.float32)
    data = TrainingData(
        users=IdMapping(user_ids),
        items=IdMapping(item_ids),
        train=matrix,
        val=empty,
        test=empty,
        train_val=matrix,
        dataset=dataset,
        split_strategy="none",
        fingerprint="",
    )
    metadata = ModelMetadata(
        version=version,
        model_name="movie-recommender",
        model_kind=model.kind,
        scorer="item_weights" if model.scorer == "item_weights" else "embeddings",
        trained_at=datetime.now(UTC).isoformat(),
        dataset=dataset,
        split_strategy="none",
        hyperparameters=model.get_params(),
        n_users=0,
        n_items=0,
        embedding_dim=0,
    )
    popularity = create_model("popularity").fit(matrix)
    with tempfile.TemporaryDirectory(prefix="movierec-features-") as features_dir:
        build_item_features(items, ratings).to_csv(Path(features_dir) / FEATURES_FILE, index=False)
        settings = load_settings(data={"features_dir": features_dir}, training={"similar": SIMILAR})
        bundle, index_bytes = build_training_bundle(settings, data, model, popularity, metadata)
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
    year, genres) into `directory` (created if needed) and return it."""
    user_ids, item_ids = ids_of(ratings, items)
    matrix = interaction_matrix(ratings, user_ids, item_ids)
    dim = min(dim, min(matrix.shape) - 1)
    model = (
        create_model(
            "als", factors=dim, regularization=1.0, iterations=10, weighting="none", seed=seed
        )
        if scorer == "embeddings"
        else create_model("item_item", neighbours=100, embedding_dim=dim)
    )
    model.fit(matrix)
    version = version or f"{dataset}-{scorer}-{seed}"
    return write_bundle(directory, ratings, items, model, version, dataset)


def build_synthetic_bundle(
    directory: Path, scorer: Scorer = "embeddings", seed: int = 0, version: str | None = None
) -> Path:
    """A bundle over `tests.synthetic.generate()` data (120 users, 90 movies) in `directory`."""
    data = generate()
    return build_bundle(directory, data.ratings, data.items, scorer, seed, version=version)
