"""The request logger: one row per served request into SQLite, off the request path.

Requests put a `LogEntry` on a bounded in-memory queue and return at once; one writer thread
drains it and inserts in batches (one statement, one transaction) every `flush_interval_s` or
every `batch_size` rows, whichever comes first. A full queue drops the entry and counts it, so
logging never blocks a request. `stop` writes everything still queued. Several worker
processes may write to the same database: it is in WAL mode and waits up to `busy_timeout`
for the write lock.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from movierec.request_log import COLUMNS, TABLE, TIMESTAMP_FORMAT, connect_writer

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
JSON_COLUMNS = frozenset({"recommendations", "scores"})
# One statement inserts a whole batch sent as one JSON array of rows. `executemany` would
# release and re-take the GIL for every row, and each re-take waits for the event loop.
INSERT_BATCH = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT "
    + ", ".join(
        f"value {'->' if name in JSON_COLUMNS else '->>'} {position}"
        for position, name in enumerate(COLUMNS)
    )
    + " FROM json_each(?)"
)


@dataclass(frozen=True)
class ServedRequest:
    """What a route served: set by the route, timed and logged by the request middleware."""

    endpoint: str
    user_id: int | None
    model_version: str | None
    movie_ids: list[int]
    scores: list[float]
    is_fallback: bool = False
    fallback_reason: str | None = None


@dataclass(frozen=True)
class LogEntry:
    """One served request with its start time (UTC) and server-side latency."""

    served: ServedRequest
    timestamp: datetime
    latency_ms: float

    def row(self) -> list[object]:
        """The `request_logs` row as a JSON array, in `movierec.request_log.COLUMNS` order."""
        served = self.served
        return [
            str(uuid.uuid4()),
            self.timestamp.strftime(TIMESTAMP_FORMAT),
            served.user_id,
            served.endpoint,
            served.model_version,
            served.movie_ids,
            [round(score, 6) for score in served.scores],
            self.latency_ms,
            int(served.is_fallback),
            served.fallback_reason if served.is_fallback else None,
        ]


@dataclass(frozen=True)
class LoggerStats:
    queued: int
    written: int
    dropped: int
    failed: int


class RequestLogger:
    """Bounded in-memory queue + one batching writer thread over the request-log database.

    `log` only appends to a list under a lock: the writer is woken once per full batch, not
    once per entry (a wake-up per request, as `queue.Queue` does, costs the event loop more
    GIL hand-overs than the whole insert).
    """

    def __init__(
        self, db_path: Path, queue_size: int, batch_size: int, flush_interval_s: float
    ) -> None:
        self.db_path = db_path
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._pending: list[LogEntry] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._queued = self._written = self._dropped = self._failed = 0

    def start(self) -> None:
        """Open the database (creating the table) and start the writer thread."""
        conn = connect_writer(self.db_path)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name="request-log-writer", daemon=True
        )
        self._thread.start()

    def log(self, entry: LogEntry) -> bool:
        """Queue `entry` without blocking; False (and counted as dropped) when the queue is full."""
        with self._lock:
            if len(self._pending) >= self.queue_size:
                self._dropped += 1
                return False
            self._pending.append(entry)
            self._queued += 1
            full = len(self._pending) >= self.batch_size
        if full and not self._wake.is_set():
            self._wake.set()
        return True

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write every queued entry, then stop the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def stats(self) -> LoggerStats:
        with self._lock:
            return LoggerStats(self._queued, self._written, self._dropped, self._failed)

    def _take(self, everything: bool) -> list[LogEntry]:
        """Remove and return the queued entries: all of them, or only the full batches."""
        with self._lock:
            take = len(self._pending)
            if not everything:
                take -= take % self.batch_size
            batch = self._pending[:take]
            del self._pending[:take]
        return batch

    def _run(self, conn: sqlite3.Connection) -> None:
        try:
            deadline = time.monotonic() + self.flush_interval_s
            while True:
                self._wake.clear()
                stopping = self._stopping.is_set()
                due = time.monotonic() >= deadline
                batch = self._take(everything=due or stopping)
                for start in range(0, len(batch), self.batch_size):
                    self._write(conn, batch[start : start + self.batch_size])
                if stopping:
                    return
                if due:
                    deadline = time.monotonic() + self.flush_interval_s
                self._wake.wait(max(0.0, deadline - time.monotonic()))
        finally:
            conn.close()

    def _write(self, conn: sqlite3.Connection, batch: list[LogEntry]) -> None:
        try:
            with conn:
                conn.execute(INSERT_BATCH, (json.dumps([entry.row() for entry in batch]),))
        except (sqlite3.Error, OverflowError, ValueError):
            log.exception("could not write %d request-log rows to %s", len(batch), self.db_path)
            with self._lock:
                self._failed += len(batch)
            return
        with self._lock:
            self._written += len(batch)
