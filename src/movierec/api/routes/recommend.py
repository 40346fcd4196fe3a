"""POST /recommend: a user's top-k movies, filtered; unknown users get popular movies.

The user's feedback (this worker's `UserProfiles`) and an inline `history` are laid over the
model's training row; `explain` adds the movies of the history behind each recommendation.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from movierec.api.access import ACCESS_RESPONSES, ANONYMOUS_TOO, RecommendAccess
from movierec.api.answers import ranked_movies
from movierec.api.deps import FeedbackDep, ServedDep, for_user
from movierec.api.errors import ERROR_RESPONSES
from movierec.api.render import because_members, encode, json_object
from movierec.api.routes.similar import UNKNOWN_MOVIE
from movierec.api.schemas import (
    Filters,
    RecommendRequest,
    RecommendResponse,
    openapi_body,
    parse_body,
)
from movierec.endpoints import RECOMMEND
from movierec.serving.profiles import inline_profile

NO_FILTERS = Filters()

router = APIRouter()


@router.post(
    RECOMMEND,
    response_model=RecommendResponse,
    responses={**UNKNOWN_MOVIE, **ACCESS_RESPONSES, **ERROR_RESPONSES},
    openapi_extra={**openapi_body(RecommendRequest), **ANONYMOUS_TOO},
)
async def recommend(
    request: Request, served: ServedDep, loop: FeedbackDep, access: RecommendAccess
) -> Response:
    """Top-k movies for a user or an anonymous `history`; without a positive interaction,
    popular movies (`is_fallback`, `fallback_reason`). A signed-in user's token acts for that
    user only; an API key needs `recommend:any`. While a challenger is loaded,
    `serving.challenger_share` of the users get its answer."""
    body = parse_body(RecommendRequest, await request.body())
    await access.require(body.user_id, served)
    filters = body.filters or NO_FILTERS
    served = for_user(request, served, body.user_id)
    engine = served.engine
    user_id = body.user_id
    profile = None if user_id is None else loop.profiles.get(user_id)
    if body.history is not None:
        for item in body.history:
            engine.column(item.movie_id)  # 404 for an unknown movie
        session = inline_profile(
            [item.movie_id for item in body.history], [item.rating for item in body.history]
        )
        profile = session if profile is None else profile.merged(session)
    ranking = engine.recommend(
        user_id,
        body.k,
        body.exclude_seen,
        filters.genres,
        filters.year_min,
        filters.year_max,
        profile,
    )
    extras = None
    if body.explain:
        because = engine.because(user_id, profile, ranking.columns)
        extras = because_members(because, engine.model.items)
    movies, request_id = ranked_movies(request, RECOMMEND, user_id, served, *ranking, extras=extras)
    return json_object(
        user_id=encode(user_id),
        recommendations=movies,
        model_version=encode(engine.version),
        is_fallback=encode(ranking.is_fallback),
        fallback_reason=encode(ranking.fallback_reason),
        request_id=request_id,
    )
