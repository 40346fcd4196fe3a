"""The quality gate in front of the `production` alias.

A candidate is promoted only when it beats the popularity baseline on validation and is no
worse than the current production version, compared on the same dataset and split strategy
(validation numbers of different splits are not comparable, so then only the baseline counts).
"""

from __future__ import annotations

from dataclasses import dataclass


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
