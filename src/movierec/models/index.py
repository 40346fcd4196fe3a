"""FAISS similarity index over L2-normalised item embeddings (inner product = cosine).

"flat" is exact (IndexFlatIP) and right for MovieLens-sized catalogues; "hnsw"
(IndexHNSWFlat, inner-product metric) is approximate and for large ones. Zero vectors stay
zero after normalisation, so they score 0 against everything instead of NaN.

Usage:
    >>> import numpy as np
    >>> vectors = np.array([[1, 0], [0, 1], [1, 0.5]], dtype=np.float32)
    >>> index = index_from_bytes(index_to_bytes(build_index(vectors)))
    >>> search_similar(index, vectors, np.array([0]), k=2)[0]
    array([[2, 1]])
"""

from __future__ import annotations

import faiss
import numpy as np

from movierec.models.base import ModelError, normalise_rows


def build_index(
    item_vectors: np.ndarray,
    kind: str = "flat",
    hnsw_m: int = 32,
    hnsw_ef_search: int = 128,
) -> faiss.Index:
    """An inner-product index holding the normalised `item_vectors` (row i = item i)."""
    if item_vectors.ndim != 2 or item_vectors.shape[1] < 1:
        raise ModelError(f"item_vectors must be (n_items, d) with d >= 1, got {item_vectors.shape}")
    unit = np.ascontiguousarray(normalise_rows(item_vectors))
    dim = unit.shape[1]
    index: faiss.Index
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = hnsw_ef_search
    else:
        raise ModelError(f"unknown index kind {kind!r}; valid kinds: flat, hnsw")
    index.add(unit)
    return index


def index_to_bytes(index: faiss.Index) -> bytes:
    """The index serialised by FAISS, for `item_index.faiss`."""
    return bytes(faiss.serialize_index(index).tobytes())


def index_from_bytes(data: bytes) -> faiss.Index:
    """Rebuild an index written by `index_to_bytes`."""
    return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))


def search_similar(
    index: faiss.Index, item_vectors: np.ndarray, itemids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest items to each of `itemids` by cosine, never the item itself.

    Returns int64 indices and float32 scores (len(itemids), k), best first, padded with -1
    and -inf when the index holds fewer than k other items.
    """
    if k < 1:
        raise ModelError(f"k must be at least 1, got {k}")
    itemids = np.asarray(itemids, dtype=np.int64).reshape(-1)
    queries = np.ascontiguousarray(normalise_rows(item_vectors[itemids]))
    scores, found = index.search(queries, k + 1)
    # Drop the query itself where it came back; otherwise drop the last (weakest) hit.
    is_self = found == itemids[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    indices = found[keep].reshape(len(itemids), k).astype(np.int64)
    values = scores[keep].reshape(len(itemids), k).astype(np.float32)
    values[indices < 0] = -np.inf
    return indices, values
