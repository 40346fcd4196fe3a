"""Ranking metrics at K with bootstrap intervals, vectorised over users.

Relevance is binary: an item is relevant to a user when it is in that user's held-out
interactions. Per-user values are computed on whole (n_users, K) arrays, so evaluating the
162k users of ml-25m costs a few array operations, not a Python loop per user.

>>> hits = relevance(np.array([[3, 1, -1]]), sp.csr_matrix(np.array([[0, 1, 0, 1]])))
>>> hits.tolist()
[[True, True, False]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from movierec.models.compute import FitOptions, block_rows, map_blocks

# Per-user metrics; "coverage" is a catalogue-level metric computed separately.
USER_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")
# Bootstrap draws are done in chunks of at most this many user indices, to bound memory.
_BOOTSTRAP_CHUNK = 2_000_000


class EvaluationError(ValueError):
    """The inputs of an evaluation do not fit together (shapes, K values)."""


class RanksItems(Protocol):
    """What evaluation needs of a model: top-k item indices per user, -1 padded."""

    def recommend(
        self,
        userids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int = 10,
        exclude_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class MetricSummary:
    """Mean over users with its bootstrap 95% interval."""

    mean: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass
class EvaluationResult:
    """Metrics keyed `name@k` over the warm users, plus the cold users on the fallback."""

    n_users: int
    metrics: dict[str, MetricSummary]
    n_cold_users: int = 0
    cold_metrics: dict[str, MetricSummary] = field(default_factory=dict)
    # Per warm user (in row order) the metric `evaluate_model` was asked to keep, for
    # paired comparisons of models over the same users; not part of `to_dict`.
    per_user: np.ndarray | None = field(default=None, repr=False)

    def mean(self, key: str) -> float:
        """The mean of metric `key` (e.g. "ndcg@10"); a clear error for an unknown key."""
        if key not in self.metrics:
            raise EvaluationError(
                f"metric {key!r} was not computed; available: {sorted(self.metrics)}. "
                "Add its K to training.k_values."
            )
        return self.metrics[key].mean

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> EvaluationResult:
        """Read back what `to_dict` wrote."""

        def summaries(metrics: dict[str, dict[str, float]]) -> dict[str, MetricSummary]:
            return {key: MetricSummary(**value) for key, value in metrics.items()}

        cold = payload["cold_users"]
        return cls(
            n_users=payload["users_evaluated"],
            metrics=summaries(payload["metrics"]),
            n_cold_users=cold["users_evaluated"],
            cold_metrics=summaries(cold["metrics"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "users_evaluated": self.n_users,
            "metrics": {key: value.to_dict() for key, value in self.metrics.items()},
            "cold_users": {
                "users_evaluated": self.n_cold_users,
                "scorer": "popularity fallback",
                "metrics": {key: value.to_dict() for key, value in self.cold_metrics.items()},
            },
        }


def relevance(recommended: np.ndarray, heldout: sp.csr_matrix) -> np.ndarray:
    """Boolean (n, k): whether each recommended item index is in that row of `heldout`.

    `recommended` holds item indices with -1 as padding; row i belongs to row i of `heldout`.
    """
    if recommended.ndim != 2 or recommended.shape[0] != heldout.shape[0]:
        raise EvaluationError(
            f"recommended has shape {recommended.shape} but heldout has {heldout.shape[0]} rows; "
            "pass one row of recommendations per held-out row"
        )
    n_items = heldout.shape[1]
    heldout = heldout.tocsr()
    rows = np.repeat(np.arange(heldout.shape[0], dtype=np.int64), np.diff(heldout.indptr))
    relevant_keys = np.sort(rows * n_items + heldout.indices.astype(np.int64))
    row_of = np.arange(recommended.shape[0], dtype=np.int64)[:, None]
    keys = row_of * n_items + recommended.astype(np.int64)
    if relevant_keys.size == 0:
        return np.zeros(recommended.shape, dtype=bool)
    position = np.minimum(np.searchsorted(relevant_keys, keys), relevant_keys.size - 1)
    return (recommended >= 0) & (relevant_keys[position] == keys)


def user_metrics(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per-user Precision, Recall, NDCG, MAP, HitRate and MRR at `k` from a hit matrix.

    `hits` is (n, >=k) boolean in rank order; `n_relevant` the held-out count per user (>= 1).
    NDCG's ideal DCG and MAP's normaliser use min(k, #relevant), so a perfect list scores 1.
    """
    if hits.shape[1] < k:
        raise EvaluationError(f"need at least {k} recommendations per user, got {hits.shape[1]}")
    top = hits[:, :k].astype(np.float64)
    n_rel = np.asarray(n_relevant, dtype=np.float64)
    n_hits = top.sum(axis=1)
    ranks = np.arange(1, k + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(ranks + 1.0)
    ideal_len = np.minimum(n_rel, k).astype(np.int64)
    ideal_dcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_len]
    precision_at_rank = np.cumsum(top, axis=1) / ranks
    first_hit = np.argmax(top > 0, axis=1)
    return {
        "precision": n_hits / k,
        "recall": n_hits / n_rel,
        "ndcg": (top @ discounts) / ideal_dcg,
        "map": (precision_at_rank * top).sum(axis=1) / np.minimum(n_rel, k),
        "hit_rate": (n_hits > 0).astype(np.float64),
        "mrr": np.where(n_hits > 0, 1.0 / (first_hit + 1.0), 0.0),
    }


def coverage(recommended: np.ndarray, k: int, n_items: int) -> float:
    """Share of the catalogue that appears in at least one top-`k` list."""
    top = recommended[:, :k]
    return float(np.unique(top[top >= 0]).size / n_items) if n_items else 0.0


def bootstrap_intervals(
    values: np.ndarray, samples: int, seed: int, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean of each row of `values` (metrics x users).

    All metrics share the same resamples of users (paired), drawn in memory-bounded chunks
    and turned into per-user counts, so a resample's means are one matrix product.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n_users = values.shape[1]
    means = values.mean(axis=1) if n_users else np.zeros(values.shape[0])
    if samples == 0 or n_users < 2:
        return means, means
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK // n_users)
    resampled = np.empty((samples, values.shape[0]))
    for start in range(0, samples, chunk):
        size = min(chunk, samples - start)
        draws = rng.integers(0, n_users, size=(size, n_users))
        offsets = np.arange(size, dtype=np.int64)[:, None] * n_users
        counts = np.bincount((draws + offsets).ravel(), minlength=size * n_users)
        resampled[start : start + size] = counts.reshape(size, n_users) @ values.T / n_users
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(resampled, [tail, 100.0 - tail], axis=0)
    return low, high


def summarise(
    recommended: np.ndarray,
    heldout: sp.csr_matrix,
    k_values: list[int],
    bootstrap_samples: int,
    seed: int,
) -> dict[str, MetricSummary]:
    """Every metric at every K for rows of `recommended` against rows of `heldout` (>=1 each)."""
    hits = relevance(recommended, heldout)
    n_relevant = np.diff(heldout.tocsr().indptr)
    keys: list[str] = []
    rows: list[np.ndarray] = []
    for k in sorted(k_values):
        for name, per_user in user_metrics(hits, n_relevant, k).items():
            keys.append(f"{name}@{k}")
            rows.append(per_user)
    stacked = np.vstack(rows) if rows else np.zeros((0, 0))
    means = stacked.mean(axis=1) if stacked.shape[1] else np.zeros(len(keys))
    low, high = bootstrap_intervals(stacked, bootstrap_samples, seed)
    summary = {
        key: MetricSummary(float(mean), float(lo), float(hi))
        for key, mean, lo, hi in zip(keys, means, low, high, strict=True)
    }
    for k in sorted(k_values):
        value = coverage(recommended, k, heldout.shape[1])
        summary[f"coverage@{k}"] = MetricSummary(value, value, value)
    return summary


def _recommend_all(
    model: RanksItems,
    users: np.ndarray,
    train_matrix: sp.csr_matrix,
    k: int,
    options: FitOptions,
) -> np.ndarray:
    """Top-k item indices for `users`, train items excluded, recommended in batches of users
    whose dense scores fit the block budget, on the threads of `options`."""
    out = np.full((len(users), k), -1, dtype=np.int64)
    # Per user and item: the float32 score and the comparisons and copies of ranking.
    batch_size = block_rows(train_matrix.shape[1], 12, options)

    def top_k(start: int, stop: int) -> np.ndarray:
        batch = users[start:stop]
        indices, _ = model.recommend(batch, train_matrix[batch], k=k, exclude_seen=True)
        return indices[:, :k]

    # One BLAS thread per batch when batches run side by side: threads over threads contend.
    with threadpool_limits(1 if options.threads > 1 else None, "blas"):
        for start, stop, indices in map_blocks(top_k, len(users), batch_size, options):
            out[start:stop, : indices.shape[1]] = indices
    return out


def evaluate_model(
    model: RanksItems,
    train_matrix: sp.csr_matrix,
    heldout: sp.csr_matrix,
    k_values: list[int],
    *,
    fallback: RanksItems | None = None,
    bootstrap_samples: int = 1000,
    seed: int = 42,
    keep_per_user: str | None = None,
    users: np.ndarray | None = None,
    options: FitOptions | None = None,
) -> EvaluationResult:
    """Evaluate `model` on the users with >=1 train and >=1 held-out interaction.

    Both matrices are (n_users, n_items) over the same mappings. Train items are excluded
    from the recommendations. Users with held-out items but no train history are cold: they
    are evaluated on `fallback` (the popularity model) and reported apart. `users` (row
    indices) restricts the evaluation to a sample of users; `options` sets the threads and
    the budget of the dense score blocks, and receives the progress, batch by batch.
    `keep_per_user` (e.g. "ndcg@10") keeps that metric's value per warm user in `per_user`.
    """
    if train_matrix.shape != heldout.shape:
        raise EvaluationError(
            f"train matrix {train_matrix.shape} and held-out matrix {heldout.shape} differ; "
            "build both over the same user and item mappings"
        )
    if not k_values or min(k_values) < 1:
        raise EvaluationError(f"k_values must be positive integers, got {k_values}")
    options = options or FitOptions()
    train_matrix = train_matrix.tocsr()
    heldout = heldout.tocsr()
    has_train = np.diff(train_matrix.indptr) > 0
    has_heldout = np.diff(heldout.indptr) > 0
    if users is not None:
        chosen = np.zeros(heldout.shape[0], dtype=bool)
        chosen[users] = True
        has_heldout &= chosen
    warm = np.flatnonzero(has_train & has_heldout)
    cold = np.flatnonzero(~has_train & has_heldout)
    max_k = max(k_values)
    recommended = _recommend_all(model, warm, train_matrix, max_k, options)
    result = EvaluationResult(
        n_users=len(warm),
        metrics=summarise(recommended, heldout[warm], k_values, bootstrap_samples, seed),
    )
    if keep_per_user is not None:
        name, _, k = keep_per_user.partition("@")
        if name not in USER_METRICS or int(k) not in k_values:
            raise EvaluationError(
                f"cannot keep {keep_per_user!r} per user: use one of {list(USER_METRICS)} at a "
                f"K of {k_values}"
            )
        hits = relevance(recommended, heldout[warm])
        result.per_user = user_metrics(hits, np.diff(heldout[warm].indptr), int(k))[name]
    if fallback is not None and len(cold):
        quiet = FitOptions(options.threads, options.block_bytes)
        cold_recommended = _recommend_all(fallback, cold, train_matrix, max_k, quiet)
        result.n_cold_users = len(cold)
        result.cold_metrics = summarise(
            cold_recommended, heldout[cold], k_values, bootstrap_samples, seed
        )
    return result
