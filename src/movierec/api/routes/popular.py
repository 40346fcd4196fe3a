"""GET /popular: the most popular movies, optionally of one genre."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from movierec.api.answers import ranked_movies
from movierec.api.deps import ServedDep
from movierec.api.errors import ERROR_RESPONSES
from movierec.api.render import encode, json_object
from movierec.api.schemas import MAX_K, PopularResponse
from movierec.endpoints import POPULAR

router = APIRouter()


@router.get(POPULAR, response_model=PopularResponse, responses=ERROR_RESPONSES)
async def popular(
    request: Request,
    served: ServedDep,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    genre: Annotated[str | None, Query(max_length=64, description="empty means all")] = None,
) -> Response:
    """Most popular movies, optionally of one genre (422 lists the valid genres)."""
    ranking = served.engine.popular(k, genre or None)
    movies, request_id = ranked_movies(request, POPULAR, None, served, *ranking)
    return json_object(
        recommendations=movies,
        source=encode("popularity"),
        model_version=encode(served.engine.version),
        request_id=request_id,
    )
