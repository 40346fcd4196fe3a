"""The plan of a training run, settled before anything is fitted.

Which grid points each candidate fits (all of them on small data; on large data the
configured point first, then a seeded random draw of the others, as many as
`training.search.grid_points` allows for that size), whether each candidate can run on
this data at all (its item limit, the memory it needs against `training.memory_budget_gb`),
which users the grid search scores, and how many threads the work may use.

A candidate that cannot run is skipped with one warning line saying why and what to change
(`training.on_unfit: skip`), or stops training at once (`fail`): never after the others ran.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from movierec.config import SearchSettings, TrainingSettings
from movierec.models import ModelParams
from movierec.models.compute import FitOptions
from movierec.models.registry import BASELINE, model_class
from movierec.training import TrainingError


@dataclass
class CandidatePlan:
    """A candidate kind and the grid points it will fit."""

    kind: str
    grid: list[ModelParams]
    grid_size: int


def grid_points_allowed(search: SearchSettings, interactions: int) -> int:
    """The number of grid points a model may fit on `interactions` training interactions."""
    for limit in search.grid_points:
        if limit.up_to_interactions is None or interactions <= limit.up_to_interactions:
            return limit.points
    return search.grid_points[-1].points


def planned_grid(
    training: TrainingSettings, kind: str, interactions: int
) -> tuple[list[ModelParams], int]:
    """The grid points `kind` fits on data of this size, and the size of its whole grid."""
    grid = training.models.grid(kind)
    allowed = grid_points_allowed(training.search, interactions)
    if len(grid) <= allowed:
        return grid, len(grid)
    configured = training.models.params(kind)
    others = [point for point in grid if point != configured]
    rng = np.random.default_rng(training.seed)
    drawn = sorted(rng.choice(len(others), size=allowed - 1, replace=False).tolist())
    return [configured, *(others[i] for i in drawn)], len(grid)


def plan_candidates(
    training: TrainingSettings,
    kinds: list[str],
    shape: tuple[int, int],
    interactions: int,
    warn: Callable[[str], None],
) -> list[CandidatePlan]:
    """The candidates that can run on data of `shape` (users, items) with `interactions`
    train+val interactions (the largest fit), each with its grid; see the module docstring."""
    budget = int(training.memory_budget_gb * 1e9)
    plans: list[CandidatePlan] = []
    refused: dict[str, str] = {}
    for kind in kinds:
        grid, grid_size = planned_grid(training, kind, interactions)
        reasons = [
            model_class(kind)(point).unfit_reason(*shape, interactions, budget) for point in grid
        ]
        fitting = [point for point, reason in zip(grid, reasons, strict=True) if reason is None]
        if kind == BASELINE or fitting:
            plans.append(CandidatePlan(kind, grid if kind == BASELINE else fitting, grid_size))
            if len(fitting) < len(grid) and kind != BASELINE:
                reason = next(r for r in reasons if r is not None)
                warn(f"{kind}: {len(grid) - len(fitting)} of its grid points left out: {reason}")
        else:
            refused[kind] = next(r for r in reasons if r is not None)
    if refused and training.on_unfit == "fail":
        raise TrainingError(
            "; ".join(f"{kind} cannot run on this data: {why}" for kind, why in refused.items())
            + " (nothing was trained: training.on_unfit is fail; set it to skip to train the "
            "others)"
        )
    for kind, why in refused.items():
        warn(f"skipping {kind}: {why}")
    return plans


def search_users(training: TrainingSettings, n_users: int) -> np.ndarray | None:
    """The user rows whose validation scores choose among grid points (None: every user)."""
    sample = training.search.sample_users
    if sample == 0 or sample >= n_users:
        return None
    rng = np.random.default_rng(training.seed)
    return np.sort(rng.choice(n_users, size=sample, replace=False))


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def fit_options(training: TrainingSettings, interactions: int) -> FitOptions:
    """Threads and block budget of the run: `training.threads`, or by data size when 0."""
    threads = training.threads
    if threads == 0:
        threads = 1 if interactions < training.parallel_from_interactions else available_cores()
    return FitOptions(threads=threads, block_bytes=training.block_memory_mb << 20)
