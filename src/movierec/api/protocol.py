"""uvicorn's httptools protocol with the two connection limits uvicorn lacks for it.

uvicorn closes a kept-alive connection that stays idle after an answer (`timeout_keep_alive`),
but a connection that never completes its request headers (opened and left idle, or fed a
byte at a time: "slowloris") is kept forever, and httptools accepts headers of any size. Here
every request's headers must arrive within `header_timeout` seconds of the connection's start
(or of the request's first byte) and fit in `max_header_bytes`; otherwise the connection is
closed, oversized headers with a 431 answer first.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with a deadline for, and a bound on, each request's headers."""

    def __init__(
        self, *args: Any, header_timeout: float, max_header_bytes: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self._header_deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._in_headers = True
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():
            return
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._in_headers and self._header_bytes > self.max_header_bytes:
            self._refuse_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_headers:  # the next request on a kept-alive connection
            self._await_headers()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._cancel_deadline()
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_header_bytes:
            self._refuse_headers()
            return
        super().on_headers_complete()

    # The parser finishes the chunk it was fed even after a refusal: there is no request.
    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def _await_headers(self) -> None:
        self._cancel_deadline()
        self._in_headers = True
        self._header_bytes = 0
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._in_headers and not self.transport.is_closing():
            self.transport.close()

    def _refuse_headers(self) -> None:
        self._cancel_deadline()
        self._refused = True
        if self.transport.is_closing():
            return
        detail = f"request headers larger than {self.max_header_bytes} bytes; send smaller ones"
        body = json.dumps({"detail": detail}).encode()
        head = (
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        self.transport.close()
