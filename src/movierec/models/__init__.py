"""Recommender models behind one interface, created and loaded by kind (see `registry`).

Usage:
    >>> from movierec.models import create_model, load_model
    >>> model = create_model("ease", l2=250.0)
    >>> model.kind, model.scorer
    ('ease', 'item_weights')
"""

from movierec.models.als import AlsParams, AlsRecommender
from movierec.models.base import ModelError, NotFittedError, Recommender
from movierec.models.ease import EaseParams, EaseRecommender
from movierec.models.item_item import ItemItemParams, ItemItemRecommender
from movierec.models.params import ModelParams, SearchSpace
from movierec.models.popularity import PopularityParams, PopularityRecommender
from movierec.models.registry import MODEL_CLASSES, create_model, load_model, model_class

__all__ = [
    "MODEL_CLASSES",
    "AlsParams",
    "AlsRecommender",
    "EaseParams",
    "EaseRecommender",
    "ItemItemParams",
    "ItemItemRecommender",
    "ModelError",
    "ModelParams",
    "NotFittedError",
    "PopularityParams",
    "PopularityRecommender",
    "Recommender",
    "SearchSpace",
    "create_model",
    "load_model",
    "model_class",
]
