"""Model search: each candidate's grid on validation, its best point refitted and tested.

For each model kind the grid of its `search` section (`movierec.models.registry`) is fitted
on train and scored on validation, each point a nested MLflow run; the best point is
evaluated in full (bootstrap intervals), refitted on train+val and evaluated on test. The
winner is the exportable candidate with the best validation score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlflow
from rich.progress import Progress

from movierec.config import TrainingSettings
from movierec.models import Recommender
from movierec.models.registry import BASELINE, MODEL_CLASSES, model_class
from movierec.training import TrainingError
from movierec.training import registry as tracking
from movierec.training.data import TrainingData
from movierec.training.engines import Engine
from movierec.training.evaluate import EvaluationResult, evaluate_model


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


def evaluation_ks(training: TrainingSettings) -> list[int]:
    """The configured K values plus the K of the selection metric."""
    selection_k = int(training.selection_metric.partition("@")[2])
    return sorted({*training.k_values, selection_k})


class CandidateSearch:
    """The search of one training run: the data, the settings and the popularity fallbacks."""

    def __init__(
        self,
        training: TrainingSettings,
        data: TrainingData,
        experiment_id: str,
        progress: Progress,
        engine: Engine,
    ) -> None:
        self.training = training
        self.data = data
        self.experiment_id = experiment_id
        self.progress = progress
        self.engine = engine
        self.ks = evaluation_ks(training)
        baseline, params = model_class(BASELINE), training.models.params(BASELINE)
        self.popularity_train = baseline(params).fit(data.train)
        self.popularity_final = baseline(params).fit(data.train_val)

    def evaluate(self, model: Recommender, final: bool, samples: int) -> EvaluationResult:
        """Validation (fit on train) or test (fit on train+val) metrics of a fitted model."""
        matrix, heldout = (
            (self.data.train_val, self.data.test) if final else (self.data.train, self.data.val)
        )
        return evaluate_model(
            model,
            matrix,
            heldout,
            self.ks,
            fallback=self.popularity_final if final else self.popularity_train,
            bootstrap_samples=samples,
            seed=self.training.seed,
            keep_per_user=None if final else self.training.selection_metric,
        )

    def candidate(self, kind: str) -> tuple[CandidateResult, Recommender]:
        """Search the grid of `kind` on validation, then refit the best on train+val."""
        metric = self.training.selection_metric
        cls = model_class(kind)
        grid = self.training.models.grid(kind)
        task = self.progress.add_task(f"{kind}: search", total=len(grid) + 1)
        best: tuple[float, Recommender] | None = None
        search: list[dict[str, Any]] = []
        for params in grid:
            model = cls(params)
            with mlflow.start_run(experiment_id=self.experiment_id, run_name=kind, nested=True):
                mlflow.set_tag("model_kind", kind)
                tracking.log_params(model.get_params())
                model = self.engine.fit(model, "train")
                result = self.evaluate(model, final=False, samples=0)
                tracking.log_flat_metrics(
                    {k: v.mean for k, v in result.metrics.items()}, prefix="val_"
                )
            score = result.mean(metric)
            search.append({"params": model.get_params(), metric: score})
            if best is None or score > best[0]:
                best = (score, model)
            self.progress.advance(task)
        assert best is not None  # the grid always holds at least the configured point
        model = best[1]
        validation = self.evaluate(model, final=False, samples=self.training.bootstrap_samples)
        self.progress.update(task, description=f"{kind}: refit on train+val")
        final_model = self.engine.fit(cls(model.params), "train_val")
        test = self.evaluate(final_model, final=True, samples=self.training.bootstrap_samples)
        self.progress.advance(task)
        self.progress.update(task, description=f"{kind}: done")
        return CandidateResult(kind, model.get_params(), search, validation, test), final_model

    def run(self, kinds: list[str]) -> tuple[dict[str, CandidateResult], dict[str, Recommender]]:
        """Every candidate in turn, its means logged to the parent run; results and models."""
        candidates: dict[str, CandidateResult] = {}
        final_models: dict[str, Recommender] = {}
        for kind in kinds:
            candidates[kind], final_models[kind] = self.candidate(kind)
            for part, result in (
                ("val", candidates[kind].validation),
                ("test", candidates[kind].test),
            ):
                tracking.log_flat_metrics(
                    {k: v.mean for k, v in result.metrics.items()}, prefix=f"{kind}.{part}."
                )
        return candidates, final_models


def select_winner(
    candidates: dict[str, CandidateResult], models: dict[str, Recommender], metric: str
) -> str:
    """The exportable candidate with the best validation score (ties: registry order)."""
    exportable = [kind for kind, model in models.items() if model.scorer != "popularity"]
    if not exportable:
        others = [kind for kind, cls in MODEL_CLASSES.items() if cls.scorer != "popularity"]
        raise TrainingError(
            f"only the {BASELINE} baseline is configured; add {', '.join(others)} or another "
            "kind to training.models in configs/training.yaml"
        )
    return max(exportable, key=lambda kind: candidates[kind].validation.mean(metric))
