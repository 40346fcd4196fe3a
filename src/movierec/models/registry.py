"""The model kinds, in one place: each kind's class, and through it its parameters and search.

`MODEL_CLASSES` maps a kind to its `Recommender` class, which names its `params_type` and
`search_type`. `ModelChoices` is built from them: the `training.models` settings section,
one optional entry per kind holding its parameters beside a `search` grid. A kind that is
absent (or null) is not trained; a list of kinds is short for each with its defaults.

Adding a kind: write `models/<kind>.py` (a Recommender subclass with `kind`, `scorer`,
`params_type` and `search_type`) and add its class to `MODEL_CLASSES`; nothing else names it.

Usage:
    >>> choices = ModelChoices.model_validate({"popularity": {}, "ease": {"max_items": 5000}})
    >>> choices.kinds()
    ['popularity', 'ease']
    >>> [(p.l2, p.max_items) for p in choices.grid("ease")]
    [(250.0, 5000), (500.0, 5000), (1000.0, 5000)]
    >>> create_model("ease", l2=100.0).get_params()["l2"]
    100.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from movierec.models.als import AlsRecommender
from movierec.models.base import ModelError, Recommender, read_model_json
from movierec.models.ease import EaseRecommender
from movierec.models.item_item import ItemItemRecommender
from movierec.models.params import ModelParams
from movierec.models.popularity import PopularityRecommender

MODEL_CLASSES: dict[str, type[Recommender]] = {
    cls.kind: cls
    for cls in (PopularityRecommender, ItemItemRecommender, AlsRecommender, EaseRecommender)
}

# The kind every candidate must beat (the quality gate) and the cold-start fallback.
BASELINE = "popularity"


def model_class(kind: str) -> type[Recommender]:
    """The class registered for `kind`; ModelError naming the valid kinds otherwise."""
    if kind not in MODEL_CLASSES:
        raise ModelError(
            f"unknown model kind {kind!r}; valid kinds: {', '.join(sorted(MODEL_CLASSES))}"
        )
    return MODEL_CLASSES[kind]


def create_model(kind: str, **params: Any) -> Recommender:
    """A new, unfitted model of `kind`; parameters not given take their defaults."""
    cls = model_class(kind)
    try:
        typed = cls.params_type.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ModelError(
            f"the {kind} model cannot take these parameters ({problems}); "
            f"valid: {', '.join(sorted(cls.params_type.model_fields))}"
        ) from exc
    return cls(typed)


def load_model(directory: Path) -> Recommender:
    """Load a model saved by `Recommender.save`, whatever its kind."""
    return model_class(read_model_json(directory)["kind"]).load(directory)


class _Choices(BaseModel):
    """What `ModelChoices` does; its fields, one per kind, are added from the registry."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _kinds_list(cls, value: Any) -> Any:
        """A list of kinds is short for each kind with its defaults."""
        return {kind: {} for kind in value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.kinds():
            raise ValueError(f"no model configured; list one or more of {', '.join(MODEL_CLASSES)}")
        return self

    def kinds(self) -> list[str]:
        """The configured kinds, in registry order."""
        return [kind for kind in MODEL_CLASSES if getattr(self, kind) is not None]

    def params(self, kind: str) -> ModelParams:
        """The configured parameters of `kind`, or its defaults when it is not configured."""
        params_type = model_class(kind).params_type
        entry = getattr(self, kind)
        if entry is None:
            return params_type()
        return params_type.model_validate(entry.model_dump(exclude={"search"}))

    def grid(self, kind: str) -> list[ModelParams]:
        """Every point of the search grid of `kind` over its configured parameters."""
        search_type, entry = model_class(kind).search_type, getattr(self, kind)
        search = search_type() if entry is None else entry.search
        return search.points(self.params(kind))


def _entry_type(cls: type[Recommender]) -> type[ModelParams]:
    """The settings entry of a kind: its parameters with its `search` space beside them."""
    return pydantic.create_model(
        f"{cls.__name__.removesuffix('Recommender')}Settings",
        __base__=cls.params_type,
        search=(cls.search_type, Field(default_factory=cls.search_type)),
    )


_ENTRIES: dict[str, Any] = {
    kind: (_entry_type(cls) | None, None) for kind, cls in MODEL_CLASSES.items()
}
ModelChoices = pydantic.create_model(
    "ModelChoices",
    __base__=_Choices,
    __doc__="The candidate models by kind (`training.models`); absent kinds are not trained.",
    **_ENTRIES,
)


def every_model() -> ModelChoices:
    """Every registered kind with its defaults: `training.models` when nothing is configured."""
    return ModelChoices.model_validate(list(MODEL_CLASSES))
