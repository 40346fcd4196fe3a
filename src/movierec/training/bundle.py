"""The production bundle of a fitted model: what serving loads, built in memory.

`build_bundle` is the one place a bundle is assembled, for training and for the tests:
user and item vectors of the model, the FAISS index over the item vectors, the interactions
the model saw (for exclude_seen), popularity (the baseline fitted on the same
interactions), the /similar table and, for item-weight scorers, the weight matrix.
Users without interactions are left out. `ArtifactBundle.write` lays the result out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp

from movierec.artifacts import ArtifactBundle, ItemRecord, ModelMetadata
from movierec.config import TrainingSettings
from movierec.data.mappings import IdMapping
from movierec.models import Recommender
from movierec.models.compute import FitOptions
from movierec.models.index import build_index, index_to_bytes
from movierec.models.registry import BASELINE, model_class
from movierec.models.similarity import shrunk_cosine, similar_items_table


def build_bundle(
    model: Recommender,
    user_items: sp.csr_matrix,
    users: IdMapping,
    items: IdMapping,
    catalogue: Sequence[ItemRecord],
    training: TrainingSettings,
    *,
    dataset: str,
    split_strategy: str,
    version: str = "",
    metrics: Mapping[str, Any] | None = None,
    run_id: str = "",
    data_fingerprint: str = "",
    git_commit: str = "",
    options: FitOptions | None = None,
) -> tuple[ArtifactBundle, bytes]:
    """The bundle of `model` fitted on `user_items` (rows `users`, columns `items`), and the
    bytes of its FAISS index; `catalogue` holds the records of `items` in column order.

    `training` gives the index, the /similar table, the popularity baseline and the model
    name; the keywords are the provenance written into `model_metadata.json`, and `options`
    the threads and block budget of the /similar table.
    """
    active = np.flatnonzero(np.diff(user_items.indptr) > 0)
    item_vectors = np.asarray(model.item_vectors(), dtype=np.float32)
    user_vectors = np.asarray(model.user_vectors(user_items), dtype=np.float32)[active]
    index, similar = training.index, training.similar
    faiss_index = build_index(item_vectors, index.kind, index.hnsw_m, index.hnsw_ef_construction)
    popularity = model_class(BASELINE)(training.models.params(BASELINE)).fit(user_items)
    metadata = ModelMetadata(
        version=version,
        model_name=training.mlflow.registered_model_name,
        model_kind=model.kind,
        scorer="item_weights" if model.scorer == "item_weights" else "embeddings",
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        dataset=dataset,
        split_strategy=split_strategy,
        hyperparameters=model.get_params(),
        metrics=dict(metrics or {}),
        n_users=len(active),
        n_items=len(items),
        embedding_dim=item_vectors.shape[1],
        similarity={"source": "shrunk_cosine", **similar.model_dump()},
        run_id=run_id,
        data_fingerprint=data_fingerprint,
        git_commit=git_commit,
    )
    bundle = ArtifactBundle(
        metadata=metadata,
        user_embeddings=user_vectors,
        item_embeddings=item_vectors,
        user_ids=users.to_ids(active),
        item_ids=items.ids,
        items=list(catalogue),
        user_items=user_items[active],
        popularity=np.asarray(popularity.score(np.array([0]), user_items[:1])[0], dtype=np.float64),
        similar_items=similar_items_table(
            user_items,
            shrunk_cosine(similar.shrinkage),
            similar.popularity_penalty,
            similar.neighbours,
            options,
        ),
        item_weights=model.item_weight_matrix(),
    )
    return bundle, index_to_bytes(faiss_index)
