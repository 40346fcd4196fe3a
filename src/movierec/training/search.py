"""Model search: each candidate's grid on validation, its best point refitted and tested.

For each planned candidate (`movierec.training.plan`) the grid points are fitted on train
and scored on validation (on the sampled users of `training.search.sample_users`), each point
a nested MLflow run under the candidate's run; the best point is evaluated in full over every
user (bootstrap intervals), refitted on train+val and evaluated on test. The candidate's run
is recorded as soon as it is done (`movierec.training.checkpoint`), so a later failure loses
nothing, and a resumed run takes finished candidates over. A candidate that fails is
recorded as failed; the others go on (`training.on_unfit: skip`) or training stops
(`fail`). The winner is the exportable candidate with the best validation score.

Fitting goes through a `FitModel` (the engine): `fit_local` runs the models' own fit on this
machine; another engine (a cluster) can take its place for the kinds it trains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from movierec.config import TrainingSettings
from movierec.models import ModelParams, Recommender
from movierec.models.compute import FitOptions
from movierec.models.registry import BASELINE, MODEL_CLASSES, model_class
from movierec.training import TrainingError
from movierec.training import registry as tracking
from movierec.training.candidate import CandidateResult, candidate_key
from movierec.training.checkpoint import (
    TAG_CANDIDATE_KEY,
    finished_candidate,
    load_candidate,
    record_candidate,
)
from movierec.training.data import TrainingData
from movierec.training.engines import Engine
from movierec.training.evaluate import EvaluationResult, evaluate_model
from movierec.training.plan import CandidatePlan
from movierec.training.progress import TrainingProgress


def evaluation_ks(training: TrainingSettings) -> list[int]:
    """The configured K values plus the K of the selection metric."""
    selection_k = int(training.selection_metric.partition("@")[2])
    return sorted({*training.k_values, selection_k})


def point_label(params: ModelParams, grid: list[ModelParams]) -> str:
    """The parameters that vary over `grid`, as `name=value` pairs."""
    values = [point.model_dump() for point in grid]
    varying = [name for name in values[0] if len({repr(v[name]) for v in values}) > 1]
    return " ".join(f"{name}={params.model_dump()[name]}" for name in varying)


class CandidateSearch:
    """The search of one training run: the data, the settings and the popularity fallbacks."""

    def __init__(
        self,
        training: TrainingSettings,
        data: TrainingData,
        experiment_id: str,
        progress: TrainingProgress,
        engine: Engine,
        *,
        options: FitOptions,
        search_users: np.ndarray | None = None,
        resume_from: MlflowClient | None = None,
        warn: Callable[[str], None] = print,
    ) -> None:
        self.training = training
        self.data = data
        self.experiment_id = experiment_id
        self.progress = progress
        self.options = options
        self.search_users = search_users
        self.engine = engine
        self.resume_from = resume_from
        self.warn = warn
        self.ks = evaluation_ks(training)
        self.failed: dict[str, str] = {}
        self.resumed: dict[str, str] = {}
        baseline, params = model_class(BASELINE), training.models.params(BASELINE)
        self.popularity_train = baseline(params).fit(data.train)
        self.popularity_final = baseline(params).fit(data.train_val)

    def fit(self, cls: type[Recommender], params: ModelParams, final: bool) -> Recommender:
        """A model fitted on train (or train+val when `final`), with a bar for its steps."""
        with self.progress.step("refit on train+val" if final else "fit") as report:
            options = replace(self.options, progress=report)
            return self.engine.fit(cls(params), "train_val" if final else "train", options)

    def evaluate(
        self, model: Recommender, final: bool, samples: int, users: np.ndarray | None = None
    ) -> EvaluationResult:
        """Validation (fit on train) or test (fit on train+val) metrics of a fitted model."""
        matrix, heldout = (
            (self.data.train_val, self.data.test) if final else (self.data.train, self.data.val)
        )
        with self.progress.step("test" if final else "validation") as report:
            return evaluate_model(
                model,
                matrix,
                heldout,
                self.ks,
                fallback=self.popularity_final if final else self.popularity_train,
                bootstrap_samples=samples,
                seed=self.training.seed,
                users=users,
                options=replace(self.options, progress=report),
                keep_per_user=None if final else self.training.selection_metric,
            )

    def candidate(self, plan: CandidatePlan, key: str) -> tuple[CandidateResult, Recommender]:
        """Search the grid of `plan` on validation, then refit the best on train+val."""
        kind, grid = plan.kind, plan.grid
        metric = self.training.selection_metric
        cls = model_class(kind)
        task = self.progress.candidate(kind, total=len(grid) + 1)
        best: tuple[float, Recommender] | None = None
        search: list[dict[str, Any]] = []
        with mlflow.start_run(experiment_id=self.experiment_id, run_name=kind, nested=True):
            mlflow.set_tags(
                {
                    "model_kind": kind,
                    tracking.TAG_FINGERPRINT: self.data.fingerprint,
                    TAG_CANDIDATE_KEY: key,
                    "grid_points": f"{len(grid)} of {plan.grid_size}",
                }
            )
            for number, params in enumerate(grid, start=1):
                label = point_label(params, grid)
                self.progress.describe(task, f"{kind}: point {number}/{len(grid)} {label}")
                with mlflow.start_run(experiment_id=self.experiment_id, run_name=kind, nested=True):
                    mlflow.set_tag("model_kind", kind)
                    tracking.log_params(params.model_dump())
                    model = self.fit(cls, params, final=False)
                    # A single point is the chosen one: scored once, on every user, in full.
                    scored = (
                        self.evaluate(model, False, self.training.bootstrap_samples)
                        if len(grid) == 1
                        else self.evaluate(model, False, 0, self.search_users)
                    )
                    tracking.log_flat_metrics(
                        {k: v.mean for k, v in scored.metrics.items()}, prefix="val_"
                    )
                score = scored.mean(metric)
                search.append({"params": model.get_params(), metric: score})
                if best is None or score > best[0]:
                    best = (score, model)
                self.progress.advance(task)
            assert best is not None  # a plan holds at least one grid point
            chosen = best[1]
            self.progress.describe(task, f"{kind}: best point on every user, refit, test")
            validation = (
                scored
                if len(grid) == 1
                else self.evaluate(chosen, False, self.training.bootstrap_samples)
            )
            params = chosen.params
            del best, chosen, model  # the grid's models: the refit may need their memory
            final_model = self.fit(cls, params, final=True)
            test = self.evaluate(final_model, True, self.training.bootstrap_samples)
            result = CandidateResult(kind, final_model.get_params(), search, validation, test)
            tracking.log_params(result.params)
            for part, evaluation in (("val", validation), ("test", test)):
                tracking.log_flat_metrics(
                    {k: v.mean for k, v in evaluation.metrics.items()}, prefix=f"{part}_"
                )
            record_candidate(result, final_model)
            self.progress.advance(task, f"{kind}: done")
        return result, final_model

    def take_over(self, kind: str, key: str) -> tuple[CandidateResult, Recommender] | None:
        """A finished candidate with this key on this data, when resuming; None otherwise."""
        if self.resume_from is None:
            return None
        run = finished_candidate(self.resume_from, self.experiment_id, self.data.fingerprint, key)
        if run is None:
            return None
        self.resumed[kind] = run.info.run_id
        return load_candidate(run, kind)

    def run(
        self, plans: list[CandidatePlan]
    ) -> tuple[dict[str, CandidateResult], dict[str, Recommender]]:
        """Every candidate in turn, its means logged to the parent run; results and models of
        those that finished (`failed` names the others and why)."""
        candidates: dict[str, CandidateResult] = {}
        final_models: dict[str, Recommender] = {}
        for plan in plans:
            key = candidate_key(plan.kind, plan.grid, self.training)
            try:
                done = self.take_over(plan.kind, key) or self.candidate(plan, key)
            except Exception as exc:  # a failing candidate must not lose the finished ones
                self.failed[plan.kind] = f"{type(exc).__name__}: {exc}"
                finished = ", ".join(candidates) or "none"
                if plan.kind == BASELINE or self.training.on_unfit == "fail":
                    raise TrainingError(
                        f"{plan.kind} failed ({self.failed[plan.kind]}); the finished "
                        f"candidates ({finished}) are recorded in MLflow: fix the cause and run "
                        "`movierec train --resume` to train only what is left"
                    ) from exc
                self.warn(f"{plan.kind} failed and is left out: {self.failed[plan.kind]}")
                continue
            candidates[plan.kind], final_models[plan.kind] = done
            for part, result in (
                ("val", candidates[plan.kind].validation),
                ("test", candidates[plan.kind].test),
            ):
                tracking.log_flat_metrics(
                    {k: v.mean for k, v in result.metrics.items()}, prefix=f"{plan.kind}.{part}."
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
            f"no candidate but the {BASELINE} baseline finished; add {', '.join(others)} or "
            "another kind to training.models in configs/training.yaml (or see the warnings "
            "above for why they did not run)"
        )
    return max(exportable, key=lambda kind: candidates[kind].validation.mean(metric))
