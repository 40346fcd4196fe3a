"""Real, valid production bundles built from small data, for tests of everything that serves.

The computations are honest and small: a truncated SVD of the user x item matrix gives the
embeddings ("embeddings" scorer), cosine similarity between item columns gives the weights
("item_weights" scorer), a FAISS `IndexFlatIP` over the L2-normalised item embeddings serves
/similar, and popularity is the number of interactions. `movierec.artifacts.ArtifactBundle`
writes the files, so a bundle here is exactly what export writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from movierec.artifacts import ArtifactBundle, ItemRecord, ModelMetadata, Scorer
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


def svd_embeddings(matrix: sp.csr_matrix, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """User and item factors of a rank-`dim` truncated SVD: users @ items.T approximates X."""
    rng = np.random.default_rng(seed)
    v0 = rng.random(min(matrix.shape))
    u, s, vt = svds(matrix.astype(np.float64), k=dim, v0=v0)
    return (u * s).astype(np.float32), vt.T.astype(np.float32)


def cosine_item_weights(matrix: sp.csr_matrix, neighbours: int = 100) -> sp.csr_matrix:
    """Item x item cosine similarity of the interaction columns, keeping each item's
    `neighbours` most similar items (as item-item models do), zero diagonal."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    normalised = sp.csr_matrix(matrix.multiply(1.0 / norms[np.newaxis, :]))
    similarity = (normalised.T @ normalised).toarray().astype(np.float32)
    np.fill_diagonal(similarity, 0.0)
    if neighbours < similarity.shape[1]:
        weakest = np.argpartition(-similarity, neighbours, axis=1)[:, neighbours:]
        np.put_along_axis(similarity, weakest, 0.0, axis=1)
    return sp.csr_matrix(similarity)


def flat_ip_index(item_embeddings: np.ndarray) -> bytes:
    """Serialized FAISS inner-product index over the L2-normalised item embeddings."""
    vectors = np.ascontiguousarray(item_embeddings, dtype=np.float32).copy()
    faiss.normalize_L2(vectors)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return bytes(faiss.serialize_index(index))


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
    directory.mkdir(parents=True, exist_ok=True)
    user_ids = np.sort(ratings["user_id"].unique())
    item_ids = np.sort(items["movie_id"].unique())
    matrix = interaction_matrix(ratings, user_ids, item_ids)
    dim = min(dim, min(matrix.shape) - 1)
    user_embeddings, item_embeddings = svd_embeddings(matrix, dim, seed)
    by_id = items.set_index("movie_id")
    records = [
        ItemRecord(
            movie_id=int(movie_id),
            title=str(by_id.at[movie_id, "title"]),
            year=None if pd.isna(by_id.at[movie_id, "year"]) else int(by_id.at[movie_id, "year"]),
            genres=list(by_id.at[movie_id, "genres"]),
        )
        for movie_id in item_ids
    ]
    metadata = ModelMetadata(
        version=version or f"{dataset}-{scorer}-{seed}",
        model_name="svd" if scorer == "embeddings" else "item_item",
        model_kind="als" if scorer == "embeddings" else "item_item",
        scorer=scorer,
        trained_at=datetime.now(UTC).isoformat(),
        dataset=dataset,
        split_strategy="none",
        hyperparameters={"dim": dim, "seed": seed},
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
        item_weights=cosine_item_weights(matrix) if scorer == "item_weights" else None,
    )
    bundle.write(directory, flat_ip_index(item_embeddings))
    return directory


def build_synthetic_bundle(
    directory: Path, scorer: Scorer = "embeddings", seed: int = 0, version: str | None = None
) -> Path:
    """A bundle over `tests.synthetic.generate()` data (120 users, 90 movies) in `directory`."""
    data = generate()
    return build_bundle(directory, data.ratings, data.items, scorer, seed, version=version)
