"""POST /recommend: a user's top-k movies, filtered; unknown users get popular movies."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from movierec.api.access import ACCESS_RESPONSES, RecommendAccess
from movierec.api.answers import ranked_movies
from movierec.api.deps import ServedDep
from movierec.api.errors import ERROR_RESPONSES
from movierec.api.render import encode, json_object
from movierec.api.schemas import (
    Filters,
    RecommendRequest,
    RecommendResponse,
    openapi_body,
    parse_body,
)
from movierec.endpoints import RECOMMEND

NO_FILTERS = Filters()

router = APIRouter()


@router.post(
    RECOMMEND,
    response_model=RecommendResponse,
    responses={**ACCESS_RESPONSES, **ERROR_RESPONSES},
    openapi_extra=openapi_body(RecommendRequest),
)
async def recommend(request: Request, served: ServedDep, access: RecommendAccess) -> Response:
    """Top-k movies for a user; unknown users get popular movies (`is_fallback`). A signed-in
    user's token acts for that user only; an API key needs `recommend:any`."""
    body = parse_body(RecommendRequest, await request.body())
    await access.require(body.user_id, served)
    filters = body.filters or NO_FILTERS
    engine = served.engine
    ranking = engine.recommend(
        body.user_id, body.k, body.exclude_seen, filters.genres, filters.year_min, filters.year_max
    )
    return json_object(
        user_id=encode(body.user_id),
        recommendations=ranked_movies(request, RECOMMEND, body.user_id, served, *ranking),
        model_version=encode(engine.version),
        is_fallback=encode(ranking.is_fallback),
        fallback_reason=encode(ranking.fallback_reason),
    )
