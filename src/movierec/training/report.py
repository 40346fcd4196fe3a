"""What a training run tells: the printed summary, metrics.json and the metadata metrics.

`print_report` shows each candidate's selection metric with its interval and users
evaluated, the winner marked, then the gate's decision; `evaluation_report` is the full
offline evaluation written as the bundle's `metrics.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from movierec.training.candidate import CandidateResult
from movierec.training.data import TrainingData
from movierec.training.gate import GateDecision


@dataclass
class TrainingReport:
    """What a training run produced and decided."""

    run_id: str
    winner: str
    selection_metric: str
    candidates: dict[str, CandidateResult]
    model_version: str
    gate: GateDecision
    production_version: str | None
    evaluation: dict[str, Any] = field(default_factory=dict)
    # The alias the gate moves: production for `movierec train`, the challenger's for retrain.
    alias: str = "production"
    # One line per candidate skipped or failed, and the run each resumed candidate came from.
    warnings: list[str] = field(default_factory=list)
    resumed: dict[str, str] = field(default_factory=dict)


def evaluation_report(
    data: TrainingData,
    metric: str,
    ks: list[int],
    bootstrap_samples: int,
    winner: str,
    candidates: dict[str, CandidateResult],
) -> dict[str, Any]:
    """The content of `metrics.json`: every candidate's search, validation and test."""
    return {
        "dataset": data.dataset,
        "split_strategy": data.split_strategy,
        "selection_metric": metric,
        "k_values": ks,
        "bootstrap_samples": bootstrap_samples,
        "winner": winner,
        "candidates": {kind: result.to_dict() for kind, result in candidates.items()},
    }


def candidate_summary(result: CandidateResult) -> dict[str, Any]:
    """Metric means of one candidate for `model_metadata.json`, with the test metrics' 95%
    bootstrap intervals as [low, high]."""
    return {
        "validation": {k: v.mean for k, v in result.validation.metrics.items()},
        "test": {k: v.mean for k, v in result.test.metrics.items()},
        "test_intervals": {k: [v.ci_low, v.ci_high] for k, v in result.test.metrics.items()},
        "validation_users": result.validation.n_users,
        "test_users": result.test.n_users,
    }


def print_report(report: TrainingReport, console: Console) -> None:
    """Per-model selection metric with intervals and users evaluated, then the decision."""
    metric = report.selection_metric
    table = Table(title=f"{metric}: mean [95% interval], users evaluated")
    for column in ("model", "validation", "test", "cold users val/test"):
        table.add_column(column)
    for kind, result in report.candidates.items():
        cells = []
        for part in (result.validation, result.test):
            value = part.metrics[metric]
            cells.append(
                f"{value.mean:.4f} [{value.ci_low:.4f}, {value.ci_high:.4f}] {part.n_users}"
            )
        name = f"{kind} (winner)" if kind == report.winner else kind
        if kind in report.resumed:
            name += f" (resumed from run {report.resumed[kind]})"
        cold = f"{result.validation.n_cold_users}/{result.test.n_cold_users}"
        table.add_row(name, *cells, cold)
    console.print(table)
    for line in report.warnings:
        console.print(f"[yellow]{line}", soft_wrap=True)
    verdict = f"promoted to {report.alias}" if report.gate.promote else "NOT promoted"
    console.print(f"registered version {report.model_version}: {verdict} ({report.gate.reason})")
