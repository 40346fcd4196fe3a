"""One candidate of a training run: what was searched, chosen and measured, and its identity.

A `CandidateResult` is what the report, metrics.json and the gate read; `candidate_key` names
what produced it (the kind, its grid and the evaluation settings), so that a later run on the
same data can take a finished candidate over instead of training it again (`--resume`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from movierec.config import TrainingSettings
from movierec.models import ModelParams
from movierec.training.evaluate import EvaluationResult


@dataclass
class CandidateResult:
    """One model kind: its searched grid, chosen parameters, validation and test results."""

    kind: str
    params: dict[str, Any]
    search: list[dict[str, Any]]
    validation: EvaluationResult
    test: EvaluationResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "search": self.search,
            "validation": self.validation.to_dict(),
            "test": self.test.to_dict(),
        }

    @classmethod
    def from_dict(cls, kind: str, payload: dict[str, Any]) -> CandidateResult:
        """Read back what `to_dict` wrote."""
        return cls(
            kind=kind,
            params=payload["params"],
            search=payload["search"],
            validation=EvaluationResult.from_dict(payload["validation"]),
            test=EvaluationResult.from_dict(payload["test"]),
        )


def candidate_key(kind: str, grid: list[ModelParams], training: TrainingSettings) -> str:
    """SHA-256 of everything that decides a candidate's result besides the data: its kind,
    the grid points searched and the evaluation settings."""
    described = {
        "kind": kind,
        "grid": [point.model_dump(mode="json") for point in grid],
        "selection_metric": training.selection_metric,
        "k_values": sorted(training.k_values),
        "bootstrap_samples": training.bootstrap_samples,
        "seed": training.seed,
        "sample_users": training.search.sample_users,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
