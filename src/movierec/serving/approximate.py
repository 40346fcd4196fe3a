"""Approximate top-k for embeddings bundles: the bundle's FAISS index instead of every item.

Exact scoring is one pass over the catalogue: at MovieLens-25M size, 59,047 movies x 64
factors per request. The bundle's item index (`item_index.faiss`, built by training over the
same item embeddings, inner-product metric: its scores are the model's scores) answers with
a graph search when it is HNSW (Malkov & Yashunin, 2018) that visits a small part of the
catalogue. The index stores full vectors, so the scores it returns are exact; it is asked
for `candidates` more items than the user has seen plus k, the seen ones are dropped, and
the best k of the rest are the answer. When too few remain (a user who has seen most of the
catalogue), `top_k` returns None and the caller scores exactly. `benchmarks/serving_scale.py`
measures recall@10 against exact scoring and the latency of both.

Usage:
    >>> import faiss, numpy as np
    >>> items = np.eye(4, dtype=np.float32)
    >>> index = faiss.IndexHNSWFlat(4, 8, faiss.METRIC_INNER_PRODUCT); index.add(items)
    >>> search = ApproximateTopK(index, candidates=2, ef_search=16)
    >>> search.top_k(np.array([0, 3, 2, 1], np.float32), np.array([1]), 0, 1, 2)[0]
    array([2, 3])
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ApproximateTopK:
    """The k best items by the index's search among `candidates` extra neighbours."""

    def __init__(self, index: Any, candidates: int, ef_search: int) -> None:
        self.index = index
        self.candidates = candidates
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = ef_search

    def top_k(
        self, user_vector: np.ndarray, seen: np.ndarray, seen_start: int, seen_end: int, k: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Columns and scores of the `k` best items outside `seen[seen_start:seen_end]` (a
        sorted CSR row), best first; None when the search leaves fewer than `k`."""
        n_seen = seen_end - seen_start
        wanted = min(int(self.index.ntotal), k + n_seen + self.candidates)
        query = np.ascontiguousarray(user_vector, dtype=np.float32).reshape(1, -1)
        scores, columns = self.index.search(query, wanted)
        keep = columns[0] >= 0
        if n_seen:
            row = seen[seen_start:seen_end]
            at = np.minimum(np.searchsorted(row, columns[0]), n_seen - 1)
            keep &= row[at] != columns[0]
        found = columns[0][keep][:k]
        if len(found) < k:
            return None
        return found.astype(np.int64), scores[0][keep][:k]
