"""POST /users (a new user, optionally with seed ratings), and GET and DELETE
/users/{id}/feedback (the user's events, and their erasure)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from movierec.api.access import ACCESS_RESPONSES, ANONYMOUS_TOO, FeedbackAccess
from movierec.api.deps import FeedbackDep, ServedDep
from movierec.api.errors import ERROR_RESPONSES, FeedbackBusyError
from movierec.api.routes.feedback import BUSY
from movierec.api.schemas import (
    MAX_ID,
    CreateUserRequest,
    ErrorResponse,
    FeedbackDeleted,
    StoredFeedback,
    UserCreated,
    UserFeedback,
    openapi_body,
    parse_body,
)
from movierec.endpoints import USER_FEEDBACK, USERS
from movierec.serving.profiles import EventKind

router = APIRouter()

UNKNOWN_MOVIE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown movie in the seed ratings"}
}


@router.post(
    USERS,
    status_code=201,
    response_model=UserCreated,
    responses={**UNKNOWN_MOVIE, **ACCESS_RESPONSES, **ERROR_RESPONSES},
    openapi_extra={**openapi_body(CreateUserRequest), **ANONYMOUS_TOO},
)
async def create_user(
    request: Request, served: ServedDep, loop: FeedbackDep, access: FeedbackAccess
) -> UserCreated:
    """A new user with an id above the dataset's; seed ratings are stored as their events.
    Open in demo mode; in required mode people sign up, and services need `feedback:any`."""
    access.require_new_user()
    raw = await request.body()
    body = parse_body(CreateUserRequest, raw or b"{}")
    engine = served.engine
    for rating in body.ratings:
        engine.column(rating.movie_id)
    user_id = await asyncio.to_thread(loop.create_user, engine.largest_user_id)
    events = [
        loop.event(user_id, rating.movie_id, EventKind.RATING, rating.value, None, engine.version)
        for rating in body.ratings
    ]
    if events and not loop.accept(events):
        raise FeedbackBusyError(f"user {user_id} was created, but {BUSY}")
    return UserCreated(user_id=user_id, event_ids=[event.event_id for event in events])


@router.get(
    USER_FEEDBACK,
    response_model=UserFeedback,
    responses={**ACCESS_RESPONSES, **ERROR_RESPONSES},
    openapi_extra=ANONYMOUS_TOO,
)
async def feedback_history(
    user_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    served: ServedDep,
    loop: FeedbackDep,
    access: FeedbackAccess,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> UserFeedback:
    """The user's feedback events, newest first (a "your ratings" page). A signed-in user's
    token reads its own only; an API key needs `feedback:any`."""
    await access.require(user_id, served)
    events = await asyncio.to_thread(loop.history, user_id, limit)
    return UserFeedback(
        user_id=user_id,
        events=[
            StoredFeedback(
                event_id=event.event_id,
                movie_id=event.movie_id,
                event=EventKind(event.event),
                value=event.value,
                created_at=event.created_at,
                model_version=event.model_version,
            )
            for event in events
        ],
    )


@router.delete(
    USER_FEEDBACK,
    response_model=FeedbackDeleted,
    responses={**ACCESS_RESPONSES, **ERROR_RESPONSES},
    openapi_extra=ANONYMOUS_TOO,
)
async def delete_feedback(
    user_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    served: ServedDep,
    loop: FeedbackDep,
    access: FeedbackAccess,
) -> FeedbackDeleted:
    """Delete every feedback event of the user; later recommendations no longer use them.
    A signed-in user's token deletes its own only; an API key needs `feedback:any`."""
    await access.require(user_id, served)
    deleted = await asyncio.to_thread(loop.erase, user_id)
    return FeedbackDeleted(user_id=user_id, deleted=deleted)
