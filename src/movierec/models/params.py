"""Typed hyper-parameters and search spaces: the base classes every model module extends.

A model module declares `<Kind>Params(ModelParams)`, whose field defaults are the only
defaults of that model, and `<Kind>Search(SearchSpace)`, the values tried per parameter on
validation. `movierec.models.registry` puts both under `training.models.<kind>` in the
settings.

Usage:
    >>> from movierec.models.als import AlsParams, AlsSearch
    >>> [(p.factors, p.regularization) for p in AlsSearch().points(AlsParams())]
    [(32, 10.0), (32, 20.0), (64, 10.0), (64, 20.0)]
    >>> AlsSearch(factors=[]).points(AlsParams(factors=16))[0].factors
    16
"""

from __future__ import annotations

from itertools import product
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

Params = TypeVar("Params", bound="ModelParams")


class ModelParams(BaseModel):
    """A model's hyper-parameters: typed, validated, unknown names refused as typos."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SearchSpace(BaseModel):
    """Values to try per parameter; every combination is fitted and scored on validation.

    Each field is named after a parameter of the model's params class and lists its values;
    an empty list leaves that parameter at its configured value. With nothing to search the
    grid is the configured point alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def points(self, base: Params) -> list[Params]:
        """Every combination of the searched values over `base`, the first field varying slowest."""
        axes = {name: values for name, values in self if values}
        return [
            base.model_validate(base.model_dump() | dict(zip(axes, values, strict=True)))
            for values in product(*axes.values())
        ]
