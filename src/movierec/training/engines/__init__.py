"""Training engines: where a candidate model is fitted (`training.engine`).

`local` fits every model in this process on the in-memory matrices of `TrainingData`;
`spark` fits ALS with Spark MLlib on `training.spark.master`, reading the processed files
itself, and every other kind locally. Both return a fitted `Recommender`, so evaluation,
the bundle, the registry, the gate and export do not depend on the engine.

Usage:
    >>> with open_engine(settings, data) as engine:  # doctest: +SKIP
    ...     model = engine.fit(create_model("als"), "train", FitOptions())
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Protocol

from movierec.config import Settings
from movierec.models import Recommender
from movierec.models.compute import FitOptions
from movierec.training import TrainingError
from movierec.training.data import TrainingData
from movierec.training.engines.local import LocalEngine

# The interactions a model is fitted on: train (the search) or train+val (the final refit).
Part = Literal["train", "train_val"]


class Engine(Protocol):
    """Fits a model on one part of the training data."""

    def fit(self, model: Recommender, part: Part, options: FitOptions) -> Recommender:
        """`model` fitted on `part` with `options` (threads, memory budget, progress) where
        the engine uses them; returns the fitted model (not always `model` itself)."""
        ...


@contextmanager
def open_engine(settings: Settings, data: TrainingData) -> Iterator[Engine]:
    """The configured engine for one training run; a Spark session lives as long as it."""
    if settings.training.engine == "spark":
        try:  # pyspark is an optional extra (`spark`): imported only when it is asked for
            from movierec.training.engines.spark import spark_engine
        except ModuleNotFoundError as exc:
            if not str(exc.name).startswith(("pyspark", "py4j")):
                raise
            raise TrainingError(
                "training.engine: spark needs pyspark, the `spark` extra: run "
                "`uv sync --extra spark` (or pip install 'movierec[spark]'), or set "
                "training.engine: local"
            ) from exc

        with spark_engine(settings, data) as engine:
            yield engine
    else:
        yield LocalEngine(data)
