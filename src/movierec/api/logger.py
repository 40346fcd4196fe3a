"""The request logger: one `request_logs` row per served request, off the request path.

Requests put a `LogEntry` on the queue of the store's batching writer
(`movierec.store.writer.BatchWriter`) and return at once; its writer process turns each entry
into a row with `log_row` and inserts the rows in batches. A full queue drops the entry and
counts it, so logging never blocks a request; `stop` writes everything still queued.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from movierec.store.database import Database
from movierec.store.tables import request_logs
from movierec.store.writer import BatchWriter

EPOCH = datetime(1970, 1, 1)


class ServedRequest(NamedTuple):
    """What a route served: set by the route, timed and logged by the request middleware."""

    endpoint: str
    user_id: int | None
    model_version: str | None
    movie_ids: list[int]
    scores: str  # a JSON array, exactly as in the answer
    is_fallback: bool = False
    fallback_reason: str | None = None
    request_id: str | None = None  # the id given in the answer (`movierec.api.request_ids`)


class LogEntry(NamedTuple):
    """One served request with its start time and server-side latency: one log row."""

    timestamp_us: int  # UTC, microseconds since the Unix epoch (`time.time_ns() // 1000`)
    latency_ms: float
    endpoint: str
    user_id: int | None
    model_version: str | None
    movie_ids: list[int]
    scores: str
    is_fallback: bool
    fallback_reason: str | None
    request_id: str | None

    @classmethod
    def of(cls, served: ServedRequest, timestamp_us: int, latency_ms: float) -> LogEntry:
        return cls(timestamp_us, latency_ms, *served)


def log_row(entry: tuple[Any, ...]) -> dict[str, Any]:
    """A `LogEntry` (as the plain tuple the writer process receives) as a `request_logs` row:
    its request id (a fresh UUID4 when the answer gave none), the time as UTC, the movie ids
    as JSON text (the scores arrive as the answer's JSON text), no reason without a fallback."""
    (
        timestamp_us,
        latency_ms,
        endpoint,
        user_id,
        version,
        movie_ids,
        scores,
        fallback,
        reason,
        request_id,
    ) = entry
    return {
        "request_id": request_id or str(uuid.uuid4()),
        "timestamp": EPOCH + timedelta(microseconds=timestamp_us),
        "user_id": user_id,
        "endpoint": endpoint,
        "model_version": version,
        "recommendations": json.dumps(movie_ids, allow_nan=False),
        "scores": scores,
        "latency_ms": latency_ms,
        "is_fallback": bool(fallback),
        "fallback_reason": reason if fallback else None,
    }


class RequestLogger(BatchWriter):
    """The store's batching writer for `request_logs`; `log` queues one `LogEntry`."""

    def __init__(
        self, database: Database, queue_size: int, batch_size: int, flush_interval_s: float
    ) -> None:
        super().__init__(database, request_logs, log_row, queue_size, batch_size, flush_interval_s)

    log = BatchWriter.put
