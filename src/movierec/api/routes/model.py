"""GET /model: the served model's description."""

from __future__ import annotations

from fastapi import APIRouter

from movierec.api.deps import ServedDep
from movierec.api.errors import ERROR_RESPONSES
from movierec.artifacts import ModelMetadata
from movierec.endpoints import MODEL

router = APIRouter()


@router.get(MODEL, response_model=ModelMetadata, responses=ERROR_RESPONSES)
async def model_description(served: ServedDep) -> ModelMetadata:
    """The served model's metadata: version, kind, training date, hyper-parameters, metrics."""
    return served.engine.model.metadata
