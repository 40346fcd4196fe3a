"""Pure-ASGI middleware around every request: body guards, timing, metrics and request logging.

Timing starts before FastAPI parses the body and ends after the last response byte is sent,
so `latency_ms` in the log is the whole server-side time. Every answer, whatever its status,
is counted and timed for /metrics (`movierec.api.metrics`). A route that served a request
leaves a `ServedRequest` on the trace; exactly one log row is queued for it when the answer
was a 200. Error answers (4xx, 503) are not served requests and are not logged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from movierec.api.logger import LogEntry, RequestLogger, ServedRequest
from movierec.api.metrics import RequestMetrics
from movierec.endpoints import AUTH_TOKEN

TRACE_KEY = "movierec.trace"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# OAuth2's password flow posts a form, not JSON.
FORM_PATHS = frozenset({AUTH_TOKEN})
FORM = "application/x-www-form-urlencoded"


@dataclass(slots=True)
class RequestTrace:
    """Start time of one request and, once a route has answered it, what it served."""

    started: float = field(default_factory=time.perf_counter)
    timestamp_us: int = field(default_factory=lambda: time.time_ns() // 1000)
    served: ServedRequest | None = None


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class RequestLogMiddleware:
    """Answers 413/415 to oversized or non-JSON bodies; times, counts and logs requests."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, metrics: RequestMetrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    def refuse_body(self, scope: Scope) -> tuple[JSONResponse | None, bool]:
        """413 for a declared length above the limit, 415 for a body that is not JSON (or a
        form, on the form routes); and
        whether the body's length is undeclared (chunked), so that it must be counted.

        It reads the raw header list once: a `Headers` object and a lookup per header cost
        every POST about a microsecond more (measured)."""
        length = content_type = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            detail = f"request body larger than {self.max_body_bytes} bytes; send a smaller one"
            return JSONResponse({"detail": detail}, status_code=413), False
        if length in (None, b"0") and not chunked:
            return None, False
        media = content_type.decode("latin-1") if content_type is not None else ""
        if scope["path"] in FORM_PATHS and media.split(";", 1)[0].strip().lower() == FORM:
            return None, length is None
        if not is_json(media):
            detail = f"send the body as application/json (got {media or 'no type'!r})"
            return JSONResponse({"detail": detail}, status_code=415), False
        return None, length is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace = RequestTrace()
        count_body = False
        if scope["method"] in BODY_METHODS:
            refusal, count_body = self.refuse_body(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                elapsed = time.perf_counter() - trace.started
                self.metrics.observe(scope["path"], refusal.status_code, elapsed)
                return
        scope[TRACE_KEY] = trace
        status = 0

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        received = 0

        async def receive_within_limit() -> Message:
            """Cut off bodies without a Content-Length (chunked) once they pass the limit."""
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(413)
            return message

        # A declared length is already checked, and the server reads no more than it says.
        try:
            await self.app(scope, receive_within_limit if count_body else receive, send_and_watch)
        finally:
            elapsed = time.perf_counter() - trace.started
            self.metrics.observe(scope["path"], status or 500, elapsed)
        served = trace.served
        if status == 200 and served is not None:
            logger: RequestLogger = scope["app"].state.serving.logger
            logger.log(LogEntry.of(served, trace.timestamp_us, elapsed * 1000.0))
            if served.is_fallback:
                self.metrics.fallback(served.endpoint, served.fallback_reason)
