"""POST /feedback and /feedback/batch: ratings, clicks, watches and dislikes, answered 202.

An event is accepted once it is queued for the store and in this worker's profiles (the
next /recommend uses it); its id comes back at once. Unknown movies are a 404 and nothing of
the request is stored; a full queue is a 503 (retry), never a lost event.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from movierec.api.access import ACCESS_RESPONSES, ANONYMOUS_TOO, FeedbackAccess
from movierec.api.deps import ServedDep, for_user, get_feedback
from movierec.api.errors import ERROR_RESPONSES, FeedbackBusyError
from movierec.api.feedback import FeedbackLoop
from movierec.api.render import encode, json_object
from movierec.api.schemas import (
    ErrorResponse,
    FeedbackAccepted,
    FeedbackBatchAccepted,
    FeedbackBatchRequest,
    FeedbackRequest,
    openapi_body,
    parse_body,
)
from movierec.api.state import Served
from movierec.endpoints import FEEDBACK, FEEDBACK_BATCH
from movierec.store.feedback import FeedbackEvent

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown movie"},
    **ACCESS_RESPONSES,
    **ERROR_RESPONSES,
}
BUSY = "the feedback queue is full; nothing was stored, retry in a second"

router = APIRouter()


def accepted(
    request: Request, loop: FeedbackLoop, served: Served, bodies: list[FeedbackRequest]
) -> list[FeedbackEvent]:
    """The events of `bodies`, all accepted; 404 for an unknown movie, 503 when full. Each
    carries the version that serves its user (the challenger for the challenger's share)."""
    engine = served.engine
    for body in bodies:
        engine.column(body.movie_id)
    events = [
        loop.event(
            b.user_id,
            b.movie_id,
            b.event,
            b.value,
            b.request_id,
            for_user(request, served, b.user_id).engine.version,
        )
        for b in bodies
    ]
    if not loop.accept(events):
        raise FeedbackBusyError(BUSY)
    return events


def answer(**encoded: str) -> Response:
    response = json_object(**encoded)
    response.status_code = 202
    return response


@router.post(
    FEEDBACK,
    status_code=202,
    response_model=FeedbackAccepted,
    responses=RESPONSES,
    openapi_extra={**openapi_body(FeedbackRequest), **ANONYMOUS_TOO},
)
async def feedback(request: Request, served: ServedDep, access: FeedbackAccess) -> Response:
    """One event: `rating` (with `value` 0.5..5), `click`, `watch` or `dislike`. A signed-in
    user's token writes for that user only; an API key needs `feedback:any`."""
    body = parse_body(FeedbackRequest, await request.body())
    await access.require(body.user_id, served)
    # The loop is looked up, not a dependency: one level fewer for FastAPI on the hot route.
    (event,) = accepted(request, await get_feedback(request), served, [body])
    known = encode(event.request_known) if body.request_id is not None else "null"
    return answer(event_id=encode(event.event_id), request_known=known)


@router.post(
    FEEDBACK_BATCH,
    status_code=202,
    response_model=FeedbackBatchAccepted,
    responses=RESPONSES,
    openapi_extra={**openapi_body(FeedbackBatchRequest), **ANONYMOUS_TOO},
)
async def feedback_batch(request: Request, served: ServedDep, access: FeedbackAccess) -> Response:
    """Several events at once (clients that buffer): all are accepted, or none (also when
    the caller may not write for one of their users)."""
    body = parse_body(FeedbackBatchRequest, await request.body())
    for user_id in sorted({event.user_id for event in body.events}):
        await access.require(user_id, served)
    events = accepted(request, await get_feedback(request), served, body.events)
    return answer(event_ids=f"[{','.join(str(event.event_id) for event in events)}]")
