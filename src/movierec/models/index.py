"""FAISS inner-product index over the item embeddings: its scores are the model's scores.

A user's score for item i is `user_vector @ item_vectors[i]`, so the index can answer
/recommend (`movierec.serving.approximate`). "flat" (IndexFlatIP) is exact and right for
MovieLens-sized catalogues; "hnsw" (IndexHNSWFlat, inner-product metric) is approximate,
for large ones: serving uses it when `serving.approximate` is on.

Usage:
    >>> import numpy as np
    >>> vectors = np.array([[1, 0], [0, 1], [2, 0.5]], dtype=np.float32)
    >>> index = index_from_bytes(index_to_bytes(build_index(vectors)))
    >>> index.search(np.array([[1, 0]], dtype=np.float32), 2)[1]
    array([[2, 0]])
"""

from __future__ import annotations

import faiss
import numpy as np

from movierec.models.base import ModelError


def build_index(
    item_vectors: np.ndarray,
    kind: str = "flat",
    hnsw_m: int = 32,
    hnsw_ef_construction: int = 80,
) -> faiss.Index:
    """An inner-product index holding `item_vectors` (row i = item i)."""
    if item_vectors.ndim != 2 or item_vectors.shape[1] < 1:
        raise ModelError(f"item_vectors must be (n_items, d) with d >= 1, got {item_vectors.shape}")
    vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
    dim = vectors.shape[1]
    index: faiss.Index
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = hnsw_ef_construction
    else:
        raise ModelError(f"unknown index kind {kind!r}; valid kinds: flat, hnsw")
    index.add(vectors)
    return index


def index_to_bytes(index: faiss.Index) -> bytes:
    """The index serialised by FAISS, for `item_index.faiss`."""
    return bytes(faiss.serialize_index(index).tobytes())


def index_from_bytes(data: bytes) -> faiss.Index:
    """Rebuild an index written by `index_to_bytes`."""
    return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
