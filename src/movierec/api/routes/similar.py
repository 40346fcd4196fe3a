"""POST /similar: the movies most similar to a seed movie, each with why it is there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from movierec.api.answers import ranked_movies
from movierec.api.deps import ServedDep
from movierec.api.errors import ERROR_RESPONSES
from movierec.api.render import encode, json_object, similar_reasons
from movierec.api.schemas import (
    ErrorResponse,
    SimilarRequest,
    SimilarResponse,
    openapi_body,
    parse_body,
)
from movierec.endpoints import SIMILAR

UNKNOWN_MOVIE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown movie"}
}

router = APIRouter()


@router.post(
    SIMILAR,
    response_model=SimilarResponse,
    responses={**UNKNOWN_MOVIE, **ERROR_RESPONSES},
    openapi_extra=openapi_body(SimilarRequest),
)
async def similar(request: Request, served: ServedDep) -> Response:
    """Movies most similar to a seed movie, each with why: shared audience and genres."""
    body = parse_body(SimilarRequest, await request.body())
    found = served.engine.similar(body.movie_id, body.k)
    movies, request_id = ranked_movies(
        request,
        SIMILAR,
        None,
        served,
        found.columns,
        found.scores,
        extras=similar_reasons(found),
    )
    return json_object(
        movie_id=encode(body.movie_id),
        title=encode(found.seed.title),
        similar_items=movies,
        model_version=encode(served.engine.version),
        request_id=request_id,
    )
