"""The production artifact contract shared by export (writer) and serving (reader).

A bundle is a directory (`models/production/`) holding:

| file                  | content                                                          |
|-----------------------|------------------------------------------------------------------|
| model_metadata.json   | `ModelMetadata` below                                            |
| user_embeddings.npy   | float32 (n_users, d): user vectors in the item-embedding space   |
| item_embeddings.npy   | float32 (n_items, d): item vectors, used by FAISS for /similar   |
| item_index.faiss      | FAISS inner-product index over the L2-normalised item embeddings |
| user_mapping.json     | {"<user_id>": row}                                               |
| item_mapping.json     | {"<movie_id>": column}                                           |
| item_features.json    | [{movie_id, title, year, genres}] in column order                |
| user_items.npz        | scipy CSR (n_users, n_items): the interactions the model saw     |
| popularity.json       | [{movie_id, score}] for every item, most popular first           |
| item_weights.npz      | scipy CSR (n_items, n_items), only for scorer "item_weights"     |
| metrics.json          | the full offline evaluation of every candidate (informational)   |

Scorers: "embeddings" scores user u as `user_embeddings[u] @ item_embeddings.T` (ALS);
"item_weights" scores as `user_items[u] @ item_weights` (item-item cosine, EASE).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, Field

MODEL_METADATA = "model_metadata.json"
USER_EMBEDDINGS = "user_embeddings.npy"
ITEM_EMBEDDINGS = "item_embeddings.npy"
ITEM_INDEX = "item_index.faiss"
USER_MAPPING = "user_mapping.json"
ITEM_MAPPING = "item_mapping.json"
ITEM_FEATURES = "item_features.json"
USER_ITEMS = "user_items.npz"
POPULARITY = "popularity.json"
ITEM_WEIGHTS = "item_weights.npz"
METRICS = "metrics.json"

Scorer = Literal["embeddings", "item_weights"]

COMMON_FILES = (
    MODEL_METADATA,
    USER_EMBEDDINGS,
    ITEM_EMBEDDINGS,
    ITEM_INDEX,
    USER_MAPPING,
    ITEM_MAPPING,
    ITEM_FEATURES,
    USER_ITEMS,
    POPULARITY,
)


def required_files(scorer: Scorer) -> tuple[str, ...]:
    """The files a bundle with this scorer must hold."""
    return (*COMMON_FILES, ITEM_WEIGHTS) if scorer == "item_weights" else COMMON_FILES


class ModelMetadata(BaseModel):
    """What `model_metadata.json` says about the exported model."""

    version: str
    model_name: str
    model_kind: str
    scorer: Scorer
    trained_at: str
    dataset: str
    split_strategy: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    n_users: int
    n_items: int
    embedding_dim: int
    run_id: str = ""
    data_fingerprint: str = ""
    git_commit: str = ""


@dataclass
class ItemRecord:
    """Catalogue entry of one movie."""

    movie_id: int
    title: str
    year: int | None
    genres: list[str]


def write_json(path: Path, payload: Any) -> None:
    """Write JSON compactly with a trailing newline."""
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(path.read_text())


@dataclass
class ArtifactBundle:
    """Everything serving needs, in memory; `write` lays it out as the table above."""

    metadata: ModelMetadata
    user_embeddings: np.ndarray
    item_embeddings: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    items: list[ItemRecord]
    user_items: sp.csr_matrix
    popularity: np.ndarray
    item_weights: sp.csr_matrix | None = None

    def write(self, directory: Path, index_bytes: bytes) -> None:
        """Write every file into the existing `directory`; `index_bytes` is the FAISS index."""
        np.save(directory / USER_EMBEDDINGS, self.user_embeddings.astype(np.float32))
        np.save(directory / ITEM_EMBEDDINGS, self.item_embeddings.astype(np.float32))
        (directory / ITEM_INDEX).write_bytes(index_bytes)
        write_json(directory / USER_MAPPING, {str(int(u)): i for i, u in enumerate(self.user_ids)})
        write_json(directory / ITEM_MAPPING, {str(int(m)): i for i, m in enumerate(self.item_ids)})
        write_json(
            directory / ITEM_FEATURES,
            [
                {"movie_id": r.movie_id, "title": r.title, "year": r.year, "genres": r.genres}
                for r in self.items
            ],
        )
        sp.save_npz(directory / USER_ITEMS, self.user_items.astype(np.float32).tocsr())
        order = np.argsort(-self.popularity, kind="stable")
        write_json(
            directory / POPULARITY,
            [
                {"movie_id": int(self.item_ids[i]), "score": float(self.popularity[i])}
                for i in order
            ],
        )
        if self.item_weights is not None:
            sp.save_npz(directory / ITEM_WEIGHTS, self.item_weights.astype(np.float32).tocsr())
        write_json(directory / MODEL_METADATA, self.metadata.model_dump())
