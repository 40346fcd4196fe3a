"""Dependencies that hand routes their shared objects (`Annotated[..., Depends(...)]`).

They are `async def` on purpose: FastAPI runs a plain `def` dependency in the thread pool, and a
thread hop per request would cost more than everything these functions do.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from movierec.api.access import ADMIN, api_key, live_key, require_scope
from movierec.api.errors import (
    FIX_COMMAND,
    AdminAuthError,
    AdminDisabledError,
    ModelNotReadyError,
)
from movierec.api.feedback import FeedbackLoop
from movierec.api.state import Served, ServingState
from movierec.endpoints import ADMIN_RELOAD
from movierec.serving.routing import serves_challenger

bearer = HTTPBearer(auto_error=False, description="MOVIEREC_ADMIN_TOKEN")


async def get_state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


StateDep = Annotated[ServingState, Depends(get_state)]


async def get_served(request: Request) -> Served:
    """The current model's engine and movie JSON, or 503 saying why there is none and how to
    build one.

    It reads the state itself rather than through `StateDep`: each level of dependencies
    costs FastAPI more per request than this function does."""
    state: ServingState = request.app.state.serving
    served = state.served
    if served is None:
        raise ModelNotReadyError(
            f"no model loaded: {state.not_ready_reason}. After `{FIX_COMMAND}`, "
            f"POST {ADMIN_RELOAD}, send SIGHUP or restart the API"
        )
    return served


ServedDep = Annotated[Served, Depends(get_served)]


def for_user(request: Request, champion: Served, user_id: int | None) -> Served:
    """The challenger for its share of users (sticky by user id) while one is loaded, else
    (and for an anonymous request) the champion."""
    state: ServingState = request.app.state.serving
    challenger = state.challenger
    if (
        challenger is not None
        and user_id is not None
        and serves_challenger(user_id, state.settings.challenger_share)
    ):
        return challenger
    return champion


async def get_feedback(request: Request) -> FeedbackLoop:
    feedback: FeedbackLoop = request.app.state.serving.feedback
    return feedback


FeedbackDep = Annotated[FeedbackLoop, Depends(get_feedback)]


async def require_admin(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    key: Annotated[str | None, Depends(api_key)],
    request: Request,
) -> None:
    """An API key with the `admin` scope (403 for a key without it), or else the admin
    token: 404 when none is configured, 401 unless the bearer token matches it."""
    if key is not None:
        require_scope(await live_key(request, key), ADMIN)
        return
    expected = state.settings.admin_token
    if not expected:
        raise AdminDisabledError(
            "admin endpoints are disabled: set MOVIEREC_ADMIN_TOKEN and restart, or send an "
            "API key with the admin scope (`movierec keys create NAME --scope admin`)"
        )
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise AdminAuthError("missing or wrong bearer token for the admin endpoints")
