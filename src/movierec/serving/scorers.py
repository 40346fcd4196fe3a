"""Scorers: every item's score for a known user row or for any interaction history.

"embeddings" bundles (ALS) score a user as `user_embeddings[u] @ item_embeddings.T`;
"item_weights" bundles (item-item cosine, EASE) as the user's interaction row times the item
weight matrix. Both also score a `History` that the model never saw (item columns with
weights: fold-in of new events, onboarding of a new user). An item-weights scorer multiplies
it by the weights, as for a known user. An embeddings scorer first solves the user's factors
against the fixed item factors Y, by the implicit-ALS normal equations (Hu, Koren, Volinsky
2008; the `implicit` library's `recalculate_user`):

    (YᵀY + Yᵤᵀ(Cᵤ - I)Yᵤ + λI) x = Yᵤᵀ Cᵤ pᵤ

where Yᵤ are the factors of the history's items, Cᵤ their confidences `alpha * |weight|`, and
pᵤ is 1 for a positive weight and 0 for a negative one (a dislike: confident, not preferred).
λ (`regularization`) and `alpha` come from the bundle's hyper-parameters when present.

`because` explains a ranking by the history: for item weights, the history items whose
weighted contributions `weights[h] * item_weights[h, i]` to item i's score are largest; for
embeddings, the history items whose embeddings have the largest cosine with item i's.
Only positive links count, so an item may have fewer reasons than asked (or none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import numpy as np
import scipy.sparse as sp

from movierec.serving import kernels
from movierec.serving.ranking import select_top_k


class History(NamedTuple):
    """One user's interactions: distinct item `columns` and the `weights` (confidences) of each."""

    columns: np.ndarray
    weights: np.ndarray


class FoldIn(NamedTuple):
    """The ALS solve's parameters; the defaults are `implicit`'s, for bundles that lack them."""

    regularization: float = 0.01
    alpha: float = 1.0

    @classmethod
    def of(cls, hyperparameters: Mapping[str, Any]) -> FoldIn:
        """The parameters named `regularization` and `alpha` in a bundle's hyper-parameters."""
        defaults = cls()
        return cls(
            float(hyperparameters.get("regularization", defaults.regularization)),
            float(hyperparameters.get("alpha", defaults.alpha)),
        )


class Scorer(Protocol):
    """Scores every item; `sparse` scorers give 0 to items they know nothing of."""

    sparse: bool

    def score(self, row: int) -> np.ndarray: ...

    def score_history(self, history: History) -> np.ndarray: ...

    def because(self, history: History, columns: np.ndarray, most: int) -> list[list[int]]: ...


def strongest_links(links: np.ndarray, history: History, most: int) -> list[list[int]]:
    """Per row of `links` (recommended items x history items), the history columns of its
    `most` largest positive entries, largest first."""
    if not len(history.columns) or not links.size:
        return [[] for _ in range(links.shape[0])]
    links = np.where(links > 0, links, -np.inf)
    positions, _ = select_top_k(links, min(most, links.shape[1]))
    return [history.columns[row[row >= 0]].tolist() for row in positions]


class EmbeddingScorer:
    """`user_embeddings[u] @ item_embeddings.T` (ALS); histories by the fold-in solve."""

    sparse = False

    def __init__(
        self, user_embeddings: np.ndarray, item_embeddings: np.ndarray, fold_in: FoldIn = FoldIn()
    ) -> None:
        self.user_embeddings = user_embeddings
        self.item_embeddings = item_embeddings
        self.fold_in = fold_in
        # The kernel's layout: one contiguous row per factor (a private copy, n_items x
        # n_factors floats: 0.2 MB on ml-100k, 15 MB for 59k movies and 64 factors).
        self.item_factors = np.ascontiguousarray(item_embeddings.T)
        factors = item_embeddings.astype(np.float64)
        self.gram = factors.T @ factors

    def score(self, row: int) -> np.ndarray:
        return np.asarray(self.item_embeddings @ self.user_embeddings[row])

    def top_k(
        self, row: int, seen: np.ndarray, seen_start: int, seen_end: int, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Columns and scores of the `k` best items outside `seen[seen_start:seen_end]`."""
        return kernels.embedding_top_k(
            self.item_factors, self.user_embeddings[row], seen, seen_start, seen_end, k
        )

    def user_vector(self, history: History) -> np.ndarray:
        """The user factors x that solve the fold-in equations of the module docstring."""
        factors = np.asarray(self.item_embeddings[history.columns], dtype=np.float64)
        weights = np.asarray(history.weights, dtype=np.float64)
        confidence = self.fold_in.alpha * np.abs(weights)
        preferred = confidence * (weights > 0)
        lhs = self.gram + (factors.T * (confidence - 1.0)) @ factors
        lhs[np.diag_indices_from(lhs)] += self.fold_in.regularization
        return np.linalg.solve(lhs, factors.T @ preferred).astype(np.float32)

    def score_history(self, history: History) -> np.ndarray:
        return np.asarray(self.item_embeddings @ self.user_vector(history))

    def because(self, history: History, columns: np.ndarray, most: int) -> list[list[int]]:
        recommended = unit_rows(self.item_embeddings[columns])
        return strongest_links(
            recommended @ unit_rows(self.item_embeddings[history.columns]).T, history, most
        )


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.where(norms > 0, norms, 1.0))


DENSE_WEIGHTS_ABOVE = 0.25


class ItemWeightsScorer:
    """`user_items[u] @ item_weights` (item-item cosine, EASE); a history the same way.

    Only the rows of the user's items take part. Dense weight matrices (EASE; a density above
    `DENSE_WEIGHTS_ABOVE`) are held as a dense array, which is then both smaller and faster.
    """

    sparse = True

    def __init__(self, user_items: sp.csr_matrix, item_weights: sp.csr_matrix) -> None:
        self.user_items = user_items
        density = item_weights.nnz / max(1, item_weights.shape[0] * item_weights.shape[1])
        self.item_weights: sp.csr_matrix | np.ndarray = (
            item_weights.toarray() if density > DENSE_WEIGHTS_ABOVE else item_weights
        )

    def score(self, row: int) -> np.ndarray:
        start, end = self.user_items.indptr[row], self.user_items.indptr[row + 1]
        return self.score_history(
            History(self.user_items.indices[start:end], self.user_items.data[start:end])
        )

    def score_history(self, history: History) -> np.ndarray:
        return np.asarray(self.item_weights[history.columns].T @ history.weights).ravel()

    def because(self, history: History, columns: np.ndarray, most: int) -> list[list[int]]:
        weights = self.item_weights[history.columns][:, columns]
        dense = weights.toarray() if sp.issparse(weights) else np.asarray(weights)
        return strongest_links((dense * history.weights[:, None]).T, history, most)
