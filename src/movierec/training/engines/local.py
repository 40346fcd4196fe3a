"""The local engine: every model fitted in this process on the in-memory matrices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from movierec.models import Recommender
from movierec.models.compute import FitOptions
from movierec.training.data import TrainingData

if TYPE_CHECKING:
    from movierec.training.engines import Part


class LocalEngine:
    """Fits `model` on `data.train` or `data.train_val` (implicit, numpy, scipy)."""

    def __init__(self, data: TrainingData) -> None:
        self.data = data

    def fit(self, model: Recommender, part: Part, options: FitOptions) -> Recommender:
        return model.fit(self.data.train if part == "train" else self.data.train_val, options)
