"""The quality gate in front of an alias: a paired bootstrap over the same evaluated users.

The candidate, the popularity baseline and the champion (the version holding `production`)
are scored per validation user on the same split; the gate bootstraps the mean of the
per-user differences of the selection metric (users resampled with replacement). It
promotes only when the lower bound of the interval against popularity is above zero and
the one against the champion is above `retrain.gate.champion_tolerance`. Two means with
overlapping intervals can still differ clearly per user, and a lead that is noise on a few
users no longer passes: the reason states the difference, its interval and the users.

The champion is compared as its recipe (kind and hyper-parameters, a version tag) refitted
on today's train split (`movierec.training.champion`): its own bundle was trained on data
that may hold today's validation interactions, so scoring it as it is would flatter it.
`apply_gate` moves the alias when the candidate passes and records the decision as tags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from movierec.training import registry
from movierec.training.evaluate import bootstrap_intervals


@dataclass(frozen=True)
class PairedDifference:
    """Mean per-user difference (candidate minus other) with its bootstrap interval."""

    mean: float
    ci_low: float
    ci_high: float
    n_users: int

    def describe(self) -> str:
        """E.g. `+0.0480 [-0.0350, +0.1210] over 21 users`."""
        return (
            f"{self.mean:+.4f} [{self.ci_low:+.4f}, {self.ci_high:+.4f}] over {self.n_users} users"
        )


@dataclass(frozen=True)
class GateDecision:
    """Whether to move the alias, and why, in words recorded as an MLflow tag."""

    promote: bool
    reason: str
    vs_popularity: PairedDifference | None = None
    vs_champion: PairedDifference | None = None


def paired_difference(
    candidate: np.ndarray, other: np.ndarray, samples: int, seed: int, level: float = 0.95
) -> PairedDifference:
    """Percentile bootstrap of mean(candidate - other) over the users both arrays score.

    >>> d = paired_difference(np.array([1.0, 0.5]), np.array([0.0, 0.5]), samples=0, seed=0)
    >>> (d.mean, d.ci_low, d.ci_high, d.n_users)
    (0.5, 0.5, 0.5, 2)
    """
    if candidate.shape != other.shape:
        raise ValueError(
            f"paired scores must cover the same users: got {candidate.shape} and {other.shape}"
        )
    difference = np.asarray(candidate, dtype=np.float64) - np.asarray(other, dtype=np.float64)
    if difference.size == 0:
        return PairedDifference(0.0, 0.0, 0.0, 0)
    low, high = bootstrap_intervals(difference[None, :], samples, seed, level)
    return PairedDifference(
        float(difference.mean()), float(low[0]), float(high[0]), int(difference.size)
    )


def decide(
    metric: str,
    vs_popularity: PairedDifference,
    vs_champion: PairedDifference | None,
    tolerance: float,
    champion: str | None = None,
) -> GateDecision:
    """Promote when the lower bound beats popularity (> 0) and the champion (> tolerance).

    `vs_champion` is None when there is no champion (`champion` None) or it cannot be
    compared (`champion` then says why). One exception: with no production version at all,
    a first model whose mean beats popularity is promoted even when its lower bound does
    not (the reason says so), because otherwise nothing would serve at all; every later
    promotion needs the lower bound.
    """

    def decision(promote: bool, reason: str) -> GateDecision:
        return GateDecision(promote, reason, vs_popularity, vs_champion)

    popularity = f"{metric} difference against popularity {vs_popularity.describe()}"
    if vs_popularity.n_users == 0:
        return decision(False, f"no validation user to compare {metric} on")
    first = vs_champion is None and champion is None
    if vs_popularity.ci_low <= 0 < vs_popularity.mean and first:
        return decision(  # something must serve: the first model, on its mean
            True,
            f"{popularity}: the lower bound does not beat popularity, but no production "
            "version exists yet, so the first model is promoted on its mean",
        )
    if vs_popularity.ci_low <= 0:
        return decision(False, f"{popularity}: the lower bound does not beat popularity")
    if vs_champion is None:
        return decision(True, f"{popularity}; {champion or 'no production version yet'}")
    against = f"against production version {champion} {vs_champion.describe()}"
    if vs_champion.ci_low <= tolerance:
        return decision(
            False,
            f"{popularity}; {against}: worse than production version {champion} "
            f"(lower bound not above the tolerance {tolerance:+.4f})",
        )
    return decision(True, f"{popularity}; {against}, above the tolerance {tolerance:+.4f}")


def score_tag(metric: str) -> str:
    """The version tag holding a version's validation score of `metric`."""
    return f"validation_{metric.replace('@', '_at_')}"


def verdict(gate: GateDecision) -> str:
    """The decision in one word, for the `quality_gate` tags."""
    return "promoted" if gate.promote else "refused"


def decision_tags(gate: GateDecision) -> dict[str, str]:
    """The decision as tags: verdict, reason and each interval as `low,high,users`."""
    tags = {registry.TAG_GATE: verdict(gate), registry.TAG_GATE_REASON: gate.reason}
    for name, difference in (("popularity", gate.vs_popularity), ("champion", gate.vs_champion)):
        if difference is not None:
            tags[f"gate_vs_{name}"] = (
                f"{difference.mean!r},{difference.ci_low!r},{difference.ci_high!r},"
                f"{difference.n_users}"
            )
    return tags


def apply_gate(
    client: MlflowClient, model_name: str, alias: str, version: ModelVersion, gate: GateDecision
) -> None:
    """Point `alias` at `version` when `gate` promotes it; tag the version with the decision."""
    if gate.promote:
        registry.set_alias(client, model_name, alias, str(version.version))
    registry.tag_version(client, version, decision_tags(gate))
