"""The API's own errors and the one mapping of every error to an HTTP answer.

The engine raises its domain errors (`movierec.serving.errors`): `InvalidQueryError` becomes
a 422 whose `loc` puts the field under "body" for POST routes and under "query" for GET
routes, as FastAPI's own validation does; `UnknownMovieError` a 404 that points at /movies.
The errors defined here are the service's (no model loaded, admin access, a refused reload,
and the accounts': 401 without valid credentials, 403 for another's data, 429 with
`Retry-After` after too many wrong passwords).
Each answer is JSON with a message that says what is wrong and what to do. Nothing leaks a
traceback: an unexpected exception is logged server-side and answered with a generic 500.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from movierec.api.schemas import ErrorResponse
from movierec.endpoints import MOVIES
from movierec.serving.errors import InvalidQueryError, QueryError, UnknownMovieError
from movierec.store.database import StoreError

log = logging.getLogger(__name__)

FIX_COMMAND = "make train"

# The error answers every model-backed route may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in [
        (413, "Body too large"),
        (415, "Body is not JSON"),
        (422, "A field is missing, malformed or out of range"),
        (503, "No model loaded; the detail names the command that builds one"),
    ]
}


class ServiceError(Exception):
    """Base of the service's own errors, answered with a 4xx or 503."""


class ModelNotReadyError(ServiceError):
    """No model is loaded; the message says why and which command fixes it."""


class AdminDisabledError(ServiceError):
    """The admin endpoints are off because no admin token is configured."""


class AdminAuthError(ServiceError):
    """The bearer token is missing or wrong."""


class ReloadRejectedError(ServiceError):
    """A reload found a bad bundle; the previous model keeps serving."""


class NotAuthenticatedError(ServiceError):
    """No credentials where they are needed, or ones that are wrong, expired or revoked."""


class ForbiddenError(ServiceError):
    """Valid credentials that do not allow this: another user's data, a missing scope."""


class ClaimTakenError(ServiceError):
    """The MovieLens user a sign-up claims already belongs to an account."""


class TooManyAttemptsError(ServiceError):
    """Too many wrong passwords; `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class FeedbackBusyError(ServiceError):
    """The feedback queue has no room: nothing of the request was accepted."""


def _json(status: int, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _query_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, UnknownMovieError):
        return _json(404, f"{exc}; GET {MOVIES} lists the valid movie ids")
    if isinstance(exc, InvalidQueryError):
        where = "query" if request.method == "GET" else "body"
        loc = [where, *exc.field]
        error = {"type": "value_error", "loc": loc, "msg": exc.message, "input": exc.value}
        return _json(422, _json_safe([error]))
    return await _unexpected(request, exc)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ModelNotReadyError):
        return _json(503, str(exc), {"Retry-After": "30"})
    if isinstance(exc, AdminDisabledError):
        return _json(404, str(exc))
    if isinstance(exc, AdminAuthError):
        return _json(401, str(exc), {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, ReloadRejectedError | ClaimTakenError):
        return _json(409, str(exc))
    if isinstance(exc, NotAuthenticatedError):
        return _json(401, str(exc), {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, ForbiddenError):
        return _json(403, str(exc))
    if isinstance(exc, TooManyAttemptsError):
        return _json(429, str(exc), {"Retry-After": str(exc.retry_after_s)})
    if isinstance(exc, FeedbackBusyError):
        return _json(503, str(exc), {"Retry-After": "1"})
    return await _unexpected(request, exc)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    """A `StoreError`, or a query of the accounts that failed (a `SQLAlchemyError`): 503."""
    if isinstance(exc, SQLAlchemyError):
        exc = StoreError(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
    log.warning("store error on %s %s: %s", request.method, request.url.path, exc)
    return _json(503, f"{exc}; the store is unavailable, retry later", {"Retry-After": "5"})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail: object = exc.detail
    if exc.status_code == 413:
        limit = request.app.state.serving.settings.max_body_bytes
        detail = f"request body larger than {limit} bytes; send a smaller one"
    if exc.status_code == 400 and request.method in ("POST", "PUT", "PATCH"):
        # FastAPI's own body parsing (the form and pydantic-body routes) could not decode the
        # body: a malformed body is a 422 on every route, here in FastAPI's validation form.
        message = "the body could not be parsed: send a JSON object in UTF-8 (or the form)"
        errors = [{"type": "body_unparsable", "loc": ["body"], "msg": message}]
        return _json(422, errors, dict(exc.headers or {}))
    return _json(exc.status_code, detail, dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    kept = ("type", "loc", "msg", "input", "ctx")
    errors = [{key: error[key] for key in kept if key in error} for error in exc.errors()]
    return _json(422, _json_safe(errors))


NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _json_safe(value: object) -> object:
    """Validation errors may echo raw bytes, odd objects or non-finite numbers (JSON bodies
    may spell NaN, Infinity or 1e400) as `input`; make them JSON text."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and not math.isfinite(value):
        return NON_FINITE.get(value, "NaN")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(500, "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Register the exception-to-HTTP mapping on `app`."""
    app.add_exception_handler(QueryError, _query_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(SQLAlchemyError, _store_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
