"""The recommender interface every model implements, batch-first, in the spirit of implicit.

A model is fitted on a user x item confidence matrix (scipy CSR, float32, rows users, columns
items) and then scores, recommends and finds similar items for whole batches at once.
`recommend` is written once here on top of each model's `score`. A model takes its typed
hyper-parameters (its `params_type`, see `movierec.models.params`); it is saved as those
parameters in JSON plus numpy arrays (never pickle) and rebuilt by `load`.

Usage:
    >>> import numpy as np, scipy.sparse as sp
    >>> from movierec.models import create_model, load_model
    >>> user_items = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32))
    >>> model = create_model("item_item", neighbours=10).fit(user_items)
    >>> ids, scores = model.recommend(np.array([0, 1]), user_items, k=2)
    >>> ids.shape, ids.dtype, scores.dtype
    ((2, 2), dtype('int64'), dtype('float32'))
    >>> model.save(tmp_dir)  # doctest: +SKIP
    >>> load_model(tmp_dir).score(np.array([0]), user_items[[0]])  # doctest: +SKIP
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from movierec.models.compute import FitOptions
from movierec.models.params import ModelParams, SearchSpace
from movierec.models.sparse_product import product_rows
from movierec.serving.ranking import exclude_interactions, select_top_k

MODEL_JSON = "model.json"
STATE_NPZ = "state.npz"
# Bytes of one stored entry of a float32 CSR matrix (value and int32 column index).
CSR_ENTRY_BYTES = 8


class ModelError(ValueError):
    """A model was used in a way it cannot honour; the message says what to do instead."""


class NotFittedError(ModelError):
    """The model has no learned state yet."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"the {kind} model is not fitted: call fit(user_items) or load() first")


def as_user_items(user_items: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """The matrix as float32 CSR, without copying when it already is one."""
    if isinstance(user_items, sp.csr_matrix) and user_items.dtype == np.float32:
        return user_items
    if not sp.issparse(user_items):
        raise ModelError(
            f"user_items must be a scipy sparse matrix (users x items), got {type(user_items)}"
        )
    return sp.csr_matrix(user_items, dtype=np.float32)


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Float32 rows scaled to unit L2 norm; all-zero rows stay zero (no NaN)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def randomized_svd(
    matrix: np.ndarray | sp.csr_matrix, rank: int, seed: int, oversample: int = 10, passes: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truncated SVD (U, s, V^T), largest singular values first, by random projection.

    Halko, Martinsson & Tropp (2011) with `passes` power iterations: a few products with the
    matrix instead of ARPACK's hundreds, and deterministic for a given `seed`.
    """
    n_rows, n_cols = matrix.shape
    width = min(rank + oversample, n_rows, n_cols)
    sample = matrix @ np.random.default_rng(seed).standard_normal((n_cols, width))
    basis = np.linalg.qr(sample)[0]
    for _ in range(passes):
        basis = np.linalg.qr(matrix.T @ basis)[0]
        basis = np.linalg.qr(matrix @ basis)[0]
    small_left, singular, right_t = np.linalg.svd(
        np.asarray((matrix.T @ basis).T), full_matrices=False
    )
    return (basis @ small_left)[:, :rank], singular[:rank], right_t[:rank]


def csr_to_arrays(name: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    """The arrays that describe a CSR matrix, prefixed by `name`, for `np.savez`."""
    return {
        f"{name}_data": matrix.data,
        f"{name}_indices": matrix.indices,
        f"{name}_indptr": matrix.indptr,
        f"{name}_shape": np.asarray(matrix.shape, dtype=np.int64),
    }


def csr_from_arrays(name: str, state: dict[str, np.ndarray]) -> sp.csr_matrix:
    """Rebuild the CSR matrix written by `csr_to_arrays`."""
    shape = tuple(int(n) for n in state[f"{name}_shape"])
    return sp.csr_matrix(
        (state[f"{name}_data"], state[f"{name}_indices"], state[f"{name}_indptr"]), shape=shape
    )


class Recommender(ABC):
    """A top-N recommender over a fixed item catalogue (column indices of the training matrix).

    Subclasses set `kind` (the name used by `create_model`), `scorer` (how serving scores:
    "embeddings" as user_vectors @ item_vectors.T, "item_weights" as user_items @ weights,
    "popularity" as one ranking for all), `params_type` (their hyper-parameters, whose
    defaults are the model's only defaults) and `search_type` (what training may search),
    and implement fitting, scoring and their state.

    Similar items are not a model's own: `movierec.models.similarity.similar_items_table`
    builds the one table every kind exports and `/similar` serves (a model's similarity, such
    as its weights or factors, is one of the sources that table can be built from).

    Usage:
        >>> model = create_model("als", factors=32).fit(train)  # doctest: +SKIP
        >>> ids, scores = model.recommend(np.arange(3), train[:3], k=10)  # doctest: +SKIP
    """

    kind: ClassVar[str]
    scorer: ClassVar[str]
    params_type: ClassVar[type[ModelParams]]
    search_type: ClassVar[type[SearchSpace]] = SearchSpace

    params: ModelParams
    _n_items: int | None = None

    def __init__(self, params: ModelParams | None = None) -> None:
        self.params = self.params_type() if params is None else params
        if not isinstance(self.params, self.params_type):
            raise ModelError(
                f"the {self.kind} model takes {self.params_type.__name__}, "
                f"got {type(self.params).__name__}"
            )

    @property
    def n_items(self) -> int:
        """The number of items (columns) the model was fitted on."""
        if self._n_items is None:
            raise NotFittedError(self.kind)
        return self._n_items

    @abstractmethod
    def fit(self, user_items: sp.csr_matrix, options: FitOptions | None = None) -> Self:
        """Learn from a user x item confidence matrix (float32 CSR, rows users); returns self.

        `options` says how many threads the fit may use, how large its dense blocks may be
        and whom to tell of its progress; the result does not depend on them."""

    def memory_needed(self, n_users: int, n_items: int, n_interactions: int) -> int:
        """Bytes a fit on such data needs beyond the matrix itself and its dense blocks (which
        `FitOptions.block_bytes` bounds): by default one transposed copy of the matrix."""
        return n_interactions * CSR_ENTRY_BYTES + (n_users + n_items) * 8

    def unfit_reason(
        self, n_users: int, n_items: int, n_interactions: int, budget_bytes: int
    ) -> str | None:
        """Why this model cannot be fitted on such data within `budget_bytes`, or None."""
        needed = self.memory_needed(n_users, n_items, n_interactions)
        if needed <= budget_bytes:
            return None
        return (
            f"{self.kind} needs about {needed / 1e9:.1f} GB for {n_users} users x {n_items} "
            f"items but training.memory_budget_gb is {budget_bytes / 1e9:.1f}: raise it if the "
            f"memory is there, or leave {self.kind} out of training.models"
        )

    @abstractmethod
    def _score(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Dense scores for validated inputs; see `score`."""

    @abstractmethod
    def item_vectors(self) -> np.ndarray:
        """Float32 (n_items, d) item embeddings, for the FAISS similarity index."""

    @abstractmethod
    def user_vectors(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Float32 (n_users, d) user embeddings in the space of `item_vectors`."""

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters, JSON-serialisable."""
        return self.params.model_dump()

    @abstractmethod
    def _state(self) -> dict[str, np.ndarray]:
        """The learned arrays to save."""

    @abstractmethod
    def _restore(self, state: dict[str, np.ndarray]) -> None:
        """Set the learned state from the arrays written by `_state`."""

    def item_weight_matrix(self) -> sp.csr_matrix | None:
        """The (n_items, n_items) weights W with score = user_items @ W, for "item_weights"."""
        return None

    def score(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """Dense float32 scores (len(userids), n_items); higher is better.

        Row i of `user_items` is the history of user `userids[i]` (as in implicit): item-weight
        models score from it, ALS from its user factors.
        """
        userids = np.asarray(userids, dtype=np.int64).reshape(-1)
        matrix = as_user_items(user_items)
        if matrix.shape[0] != len(userids):
            raise ModelError(
                f"user_items must contain 1 row for every user in userids: got "
                f"{matrix.shape[0]} rows for {len(userids)} users (pass user_items[userids])"
            )
        if matrix.shape[1] != self.n_items:
            raise ModelError(
                f"user_items has {matrix.shape[1]} columns but the {self.kind} model knows "
                f"{self.n_items} items; use the item mapping the model was trained with"
            )
        return self._score(userids, matrix)

    def recommend(
        self,
        userids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int = 10,
        exclude_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items per user: int64 indices and float32 scores (len(userids), k), best first.

        With `exclude_seen`, the items stored in each user's row of `user_items` are never
        recommended. Slots that no eligible item fills hold index -1 and score -inf.
        """
        if k < 1:
            raise ModelError(f"k must be at least 1, got {k}")
        scores = self.score(userids, user_items)
        if exclude_seen:
            exclude_interactions(scores, as_user_items(user_items))
        return select_top_k(scores, k)

    def save(self, directory: Path) -> None:
        """Write the hyper-parameters (JSON) and learned arrays (.npz) into `directory`."""
        state = self._state()
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"kind": self.kind, "params": self.get_params(), "n_items": self.n_items}
        (directory / MODEL_JSON).write_text(json.dumps(payload, indent=2) + "\n")
        arrays: dict[str, Any] = dict(state)
        np.savez(directory / STATE_NPZ, **arrays)

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Rebuild a model saved by `save`; refuses a directory holding another kind."""
        payload = read_model_json(directory)
        if payload["kind"] != cls.kind:
            raise ModelError(
                f"{directory} holds a {payload['kind']!r} model, not {cls.kind!r}; "
                "use movierec.models.load_model to load any kind"
            )
        model = cls(cls.params_type.model_validate(payload["params"]))
        with np.load(directory / STATE_NPZ, allow_pickle=False) as arrays:
            model._restore({name: arrays[name] for name in arrays.files})
        model._n_items = int(payload["n_items"])
        return model


def read_model_json(directory: Path) -> dict[str, Any]:
    """The JSON description of a saved model, with a clear error when it is missing."""
    path = directory / MODEL_JSON
    if not path.is_file():
        raise ModelError(f"{path} not found: {directory} does not hold a saved model")
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


class ItemWeightParams(ModelParams):
    """Parameters shared by the item-weight models.

    Attributes:
        embedding_dim: size of the SVD item embeddings for the FAISS similarity index (these
            models have no embeddings of their own).
    """

    embedding_dim: int = Field(64, ge=1)


class ItemWeightRecommender(Recommender):
    """Base of models that score by an item x item weight matrix W: scores = user_items @ W.

    Row i of W holds the weights item i gives to every other item: the recommendations of a
    user whose history is only item i. For the FAISS index,
    W is factorised by a truncated SVD, W ~ U S V^T: `item_vectors` are V sqrt(S) and
    `user_vectors` project histories as user_items @ U sqrt(S), so that their inner products
    approximate the model's own scores and cosine between item vectors follows W.
    """

    scorer = "item_weights"
    svd_seed: ClassVar[int] = 0

    params: ItemWeightParams

    def __init__(self, params: ItemWeightParams | None = None) -> None:
        super().__init__(params)
        self.weights: np.ndarray | sp.csr_matrix | None = None
        self._factors: tuple[np.ndarray, np.ndarray] | None = None

    @abstractmethod
    def _fit_weights(
        self, user_items: sp.csr_matrix, options: FitOptions
    ) -> np.ndarray | sp.csr_matrix:
        """The (n_items, n_items) float32 weight matrix learned from `user_items`."""

    def fit(self, user_items: sp.csr_matrix, options: FitOptions | None = None) -> Self:
        matrix = as_user_items(user_items)
        self.weights = self._fit_weights(matrix, options or FitOptions())
        self._factors = None
        self._n_items = matrix.shape[1]
        return self

    def _weights(self) -> np.ndarray | sp.csr_matrix:
        if self.weights is None:
            raise NotFittedError(self.kind)
        return self.weights

    def item_weight_matrix(self) -> sp.csr_matrix:
        """W as CSR; `user_items @ W` reproduces `score` exactly."""
        weights = self._weights()
        return weights if sp.issparse(weights) else sp.csr_matrix(weights)

    def _score(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        weights = self._weights()
        if sp.issparse(weights):  # compiled: scipy's sparse product would hold the GIL
            return product_rows(user_items, weights, 0, user_items.shape[0])
        return np.asarray(user_items @ weights, dtype=np.float32)

    def _svd(self) -> tuple[np.ndarray, np.ndarray]:
        """(V sqrt(S), U sqrt(S)) of the truncated SVD of W, computed once per fit."""
        if self._factors is None:
            rank = min(self.params.embedding_dim, self.n_items - 1)
            if rank < 1:
                raise ModelError(f"an embedding needs at least 2 items, got {self.n_items}")
            # Small products: OpenBLAS threads only add contention (measured 10x slower on 2 cores).
            with threadpool_limits(1, "blas"):
                left, singular, right_t = randomized_svd(self._weights(), rank, self.svd_seed)
            root = np.sqrt(singular)
            self._factors = (
                (right_t.T * root).astype(np.float32),
                (left * root).astype(np.float32),
            )
        return self._factors

    def item_vectors(self) -> np.ndarray:
        return self._svd()[0]

    def user_vectors(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Histories projected onto the item embedding space: user_items @ U sqrt(S)."""
        projected = as_user_items(user_items) @ self._svd()[1]
        return np.asarray(projected, dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        weights = self._weights()
        if sp.issparse(weights):
            return csr_to_arrays("weights", weights)
        return {"weights": weights}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.weights = state["weights"] if "weights" in state else csr_from_arrays("weights", state)
        self._factors = None
