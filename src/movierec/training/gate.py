"""The quality gate in front of the `production` alias.

A candidate is promoted only when it beats the popularity baseline on validation and is no
worse than the current production version, compared on the same dataset and split strategy
(validation numbers of different splits are not comparable, so then only the baseline counts).
`apply_gate` reads the current production version from the registry, decides, moves the
alias when the candidate passes and records the decision as version tags.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from movierec.config import MlflowSettings
from movierec.training import registry


@dataclass(frozen=True)
class GateInput:
    """Validation score of one model and what data it was measured on."""

    score: float
    dataset: str
    split_strategy: str
    version: str = ""


@dataclass(frozen=True)
class GateDecision:
    """Whether to move the alias, and why, in words recorded as an MLflow tag."""

    promote: bool
    reason: str


def decide(
    metric: str, candidate: GateInput, popularity_score: float, current: GateInput | None
) -> GateDecision:
    """Promote `candidate` when it beats popularity and is no worse than `current`."""
    if candidate.score <= popularity_score:
        return GateDecision(
            False,
            f"validation {metric} {candidate.score:.4f} does not beat popularity "
            f"({popularity_score:.4f})",
        )
    beats = f"validation {metric} {candidate.score:.4f} beats popularity ({popularity_score:.4f})"
    if current is None:
        return GateDecision(True, f"{beats}; no production version yet")
    same_data = (current.dataset, current.split_strategy) == (
        candidate.dataset,
        candidate.split_strategy,
    )
    if not same_data:
        return GateDecision(
            True,
            f"{beats}; production version {current.version} was validated on "
            f"{current.dataset}/{current.split_strategy}, not comparable with "
            f"{candidate.dataset}/{candidate.split_strategy}",
        )
    if candidate.score < current.score:
        return GateDecision(
            False,
            f"validation {metric} {candidate.score:.4f} is worse than production version "
            f"{current.version} ({current.score:.4f})",
        )
    return GateDecision(
        True,
        f"{beats} and is no worse than production version {current.version} "
        f"({current.score:.4f})",
    )


def score_tag(metric: str) -> str:
    """The version tag holding a version's validation score of `metric`."""
    return f"validation_{metric.replace('@', '_at_')}"


def registered_input(version: ModelVersion, metric: str) -> GateInput | None:
    """What the gate needs to know of a registered version, from its tags."""
    score = version.tags.get(score_tag(metric))
    if score is None:
        return None
    return GateInput(
        score=float(score),
        dataset=version.tags.get(registry.TAG_DATASET, ""),
        split_strategy=version.tags.get(registry.TAG_SPLIT, ""),
        version=str(version.version),
    )


def verdict(gate: GateDecision) -> str:
    """The decision in one word, for the `quality_gate` tags."""
    return "promoted" if gate.promote else "refused"


def apply_gate(
    client: MlflowClient,
    names: MlflowSettings,
    metric: str,
    version: ModelVersion,
    candidate: GateInput,
    popularity_score: float,
) -> GateDecision:
    """Move the production alias to `version` if `candidate` passes the gate; tag the decision."""
    current_version = registry.aliased_version(
        client, names.registered_model_name, names.production_alias
    )
    current = registered_input(current_version, metric) if current_version is not None else None
    gate = decide(metric, candidate, popularity_score, current)
    if gate.promote:
        registry.set_alias(
            client, names.registered_model_name, names.production_alias, str(version.version)
        )
    registry.tag_version(
        client, version, {registry.TAG_GATE: verdict(gate), registry.TAG_GATE_REASON: gate.reason}
    )
    return gate
