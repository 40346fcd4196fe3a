"""Recommender models behind one interface, created and loaded by kind.

Usage:
    >>> from movierec.models import create_model, load_model
    >>> model = create_model("ease", l2=250.0)
    >>> model.kind, model.scorer
    ('ease', 'item_weights')
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from movierec.models.als import AlsRecommender
from movierec.models.base import ModelError, NotFittedError, Recommender, read_model_json
from movierec.models.ease import EaseRecommender
from movierec.models.item_item import ItemItemRecommender
from movierec.models.popularity import PopularityRecommender

MODEL_CLASSES: dict[str, type[Recommender]] = {
    cls.kind: cls
    for cls in (PopularityRecommender, ItemItemRecommender, AlsRecommender, EaseRecommender)
}

__all__ = [
    "MODEL_CLASSES",
    "AlsRecommender",
    "EaseRecommender",
    "ItemItemRecommender",
    "ModelError",
    "NotFittedError",
    "PopularityRecommender",
    "Recommender",
    "create_model",
    "load_model",
]


def model_class(kind: str) -> type[Recommender]:
    """The class registered for `kind`; ValueError naming the valid kinds otherwise."""
    if kind not in MODEL_CLASSES:
        raise ModelError(
            f"unknown model kind {kind!r}; valid kinds: {', '.join(sorted(MODEL_CLASSES))}"
        )
    return MODEL_CLASSES[kind]


def create_model(kind: str, **params: Any) -> Recommender:
    """A new, unfitted model of `kind` with the given hyper-parameters."""
    cls = model_class(kind)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ModelError(
            f"the {kind} model takes no parameter(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(accepted))}"
        )
    return cls(**params)


def load_model(directory: Path) -> Recommender:
    """Load a model saved by `Recommender.save`, whatever its kind."""
    return model_class(read_model_json(directory)["kind"]).load(directory)
