"""The service's domain exceptions and their one mapping to HTTP answers.

Routes and the engine raise these; `install_error_handlers` turns each into a JSON answer with
a message that says what is wrong and what to do. Nothing leaks a traceback: an unexpected
exception is logged server-side and answered with a generic 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

FIX_COMMAND = "make train"


class ServingError(Exception):
    """Base of the errors the API answers with a 4xx or 503."""


class ModelNotReadyError(ServingError):
    """No model is loaded; the message says why and which command fixes it."""


class UnknownMovieError(ServingError):
    """The movie id is not in the loaded model's catalogue."""

    def __init__(self, movie_id: int) -> None:
        super().__init__(
            f"movie_id {movie_id} is not in the catalogue of the loaded model; "
            "GET /movies lists the valid movie ids"
        )
        self.movie_id = movie_id


class InvalidFieldError(ServingError):
    """A request field is well-typed but not acceptable (unknown genre, k above max_k)."""

    def __init__(self, loc: Sequence[str | int], message: str, value: object) -> None:
        super().__init__(message)
        self.loc = tuple(loc)
        self.value = value


class AdminDisabledError(ServingError):
    """The admin endpoints are off because no admin token is configured."""


class AdminAuthError(ServingError):
    """The bearer token is missing or wrong."""


class ReloadRejectedError(ServingError):
    """A reload found a bad bundle; the previous model keeps serving."""


def _json(status: int, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _serving_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ModelNotReadyError):
        return _json(503, str(exc), {"Retry-After": "30"})
    if isinstance(exc, UnknownMovieError):
        return _json(404, str(exc))
    if isinstance(exc, InvalidFieldError):
        error = {"type": "value_error", "loc": list(exc.loc), "msg": str(exc), "input": exc.value}
        return _json(422, [error])
    if isinstance(exc, AdminDisabledError):
        return _json(404, str(exc))
    if isinstance(exc, AdminAuthError):
        return _json(401, str(exc), {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, ReloadRejectedError):
        return _json(409, str(exc))
    return await _unexpected(request, exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail: object = exc.detail
    if exc.status_code == 413:
        limit = request.app.state.serving.settings.max_body_bytes
        detail = f"request body larger than {limit} bytes; send a smaller one"
    return _json(exc.status_code, detail, dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    kept = ("type", "loc", "msg", "input", "ctx")
    errors = [{key: error[key] for key in kept if key in error} for error in exc.errors()]
    return _json(422, _json_safe(errors))


def _json_safe(value: object) -> object:
    """Validation errors may echo raw bytes or odd objects as `input`; make them JSON text."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(500, "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Register the exception-to-HTTP mapping on `app`."""
    app.add_exception_handler(ServingError, _serving_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
