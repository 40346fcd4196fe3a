"""The champion for the paired gate: the production version's recipe on today's split.

A version records its recipe (model kind and hyper-parameters) as tags at registration.
The champion's per-user validation scores come from that recipe fitted on today's train
split and scored on today's validation users, the very users the candidate is scored on;
when a candidate of this run has the same recipe, its scores are reused instead of a refit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from mlflow.tracking import MlflowClient

from movierec.config import MlflowSettings
from movierec.models.registry import create_model
from movierec.training import registry
from movierec.training.search import CandidateResult, CandidateSearch


@dataclass(frozen=True)
class Champion:
    """The production version, and its per-user validation scores when it can be compared."""

    version: str
    per_user: np.ndarray | None
    note: str = ""


def recipe_tags(kind: str, params: dict[str, Any]) -> dict[str, str]:
    """The version tags that let a later run refit this version's recipe."""
    return {registry.TAG_MODEL_KIND: kind, registry.TAG_MODEL_PARAMS: json.dumps(params)}


def champion_scores(
    client: MlflowClient,
    names: MlflowSettings,
    search: CandidateSearch,
    candidates: dict[str, CandidateResult],
) -> Champion | None:
    """The production version scored as its recipe on today's validation; None without one."""
    version = registry.aliased_version(client, names.registered_model_name, names.production_alias)
    if version is None:
        return None
    number = str(version.version)
    kind, params = version.tags.get(registry.TAG_MODEL_KIND), version.tags.get(
        registry.TAG_MODEL_PARAMS
    )
    if kind is None or params is None:
        return Champion(
            number,
            None,
            f"production version {number} records no recipe (registered before the paired "
            "gate): compared against popularity only",
        )
    recipe = json.loads(params)
    for result in candidates.values():
        if result.kind == kind and json.loads(json.dumps(result.params)) == recipe:
            return Champion(number, result.validation.per_user)
    model = create_model(kind, **recipe).fit(search.data.train)
    return Champion(number, search.evaluate(model, final=False, samples=0).per_user)
