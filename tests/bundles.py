"""Real, valid production bundles built from small data, for tests of everything that serves.

The project's own models are fitted in a fraction of a second: ALS for the "embeddings"
scorer, item-item cosine for the "item_weights" scorer; the FAISS index is built by
`movierec.models.index`, the similar-items table by `movierec.models.similarity` and
popularity is the number of interactions.
`movierec.artifacts.ArtifactBundle` writes the files, so a bundle here is exactly what export
writes, without the minute of MLflow and evaluation a full pipeline run would add to a test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.artifacts import ArtifactBundle, ItemRecord, ModelMetadata, Scorer
from movierec.models import create_model
from movierec.models.index import build_index, index_to_bytes
from movierec.models.similarity import shrunk_cosine, similar_items_table
from tests.synthetic import generate


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
    directory.mkdir(parents=True, exist_ok=True)
    user_ids = np.sort(ratings["user_id"].unique())
    item_ids = np.sort(items["movie_id"].unique())
    matrix = interaction_matrix(ratings, user_ids, item_ids)
    dim = min(dim, min(matrix.shape) - 1)
    kind = "als" if scorer == "embeddings" else "item_item"
    params = (
        {"factors": dim, "regularization": 1.0, "iterations": 10, "weighting": "none", "seed": seed}
        if kind == "als"
        else {"neighbours": 100, "embedding_dim": dim}
    )
    model = create_model(kind, **params).fit(matrix)
    item_embeddings = np.asarray(model.item_vectors(), dtype=np.float32)
    user_embeddings = np.asarray(model.user_vectors(matrix), dtype=np.float32)
    by_id = items.set_index("movie_id")
    links = by_id["url"].dropna().to_dict() if "url" in by_id else {}
    records = [
        ItemRecord(
            movie_id=int(movie_id),
            title=str(by_id.at[movie_id, "title"]),
            year=None if pd.isna(by_id.at[movie_id, "year"]) else int(by_id.at[movie_id, "year"]),
            genres=list(by_id.at[movie_id, "genres"]),
            url=links.get(movie_id),
        )
        for movie_id in item_ids
    ]
    metadata = ModelMetadata(
        version=version or f"{dataset}-{scorer}-{seed}",
        model_name="movie-recommender",
        model_kind=kind,
        scorer=scorer,
        trained_at=datetime.now(UTC).isoformat(),
        dataset=dataset,
        split_strategy="none",
        hyperparameters=model.get_params(),
        n_users=len(user_ids),
        n_items=len(item_ids),
        embedding_dim=dim,
    )
    bundle = ArtifactBundle(
        metadata=metadata,
        user_embeddings=user_embeddings,
        item_embeddings=item_embeddings,
        user_ids=user_ids,
        item_ids=item_ids,
        items=records,
        user_items=matrix,
        popularity=np.asarray(matrix.sum(axis=0)).ravel().astype(np.float64),
        similar_items=similar_items_table(matrix, shrunk_cosine(10.0), 0.4, 100),
        item_weights=model.item_weight_matrix(),
    )
    bundle.write(directory, index_to_bytes(build_index(item_embeddings)))
    return directory


def build_synthetic_bundle(
    directory: Path, scorer: Scorer = "embeddings", seed: int = 0, version: str | None = None
) -> Path:
    """A bundle over `tests.synthetic.generate()` data (120 users, 90 movies) in `directory`."""
    data = generate()
    return build_bundle(directory, data.ratings, data.items, scorer, seed, version=version)
