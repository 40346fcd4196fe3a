"""The request logger: one row per served request into SQLite, off the request path.

Requests put a `LogEntry` on a bounded in-memory queue and return at once; one writer thread
drains it and inserts in batches (one statement, one transaction) every `flush_interval_s` or
every `batch_size` rows, whichever comes first. A full queue drops the entry and counts it, so
logging never blocks a request. `stop` writes everything still queued. Several worker
processes may write to the same database: it is in WAL mode and waits up to `busy_timeout`
for the write lock.

The writer shares the interpreter lock with the event loop, so it does almost nothing in
Python: a batch goes to SQLite as one JSON array of the entries (a tuple encodes as an
array), and SQLite, which runs without the lock, takes the columns apart, formats the
timestamp and draws the request id. Drawing the id with `uuid.uuid4` took 14 us of the
event loop's time per row under load (py-spy, `make benchmark-serving`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from movierec.request_log import COLUMNS, TABLE, connect_writer

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


class ServedRequest(NamedTuple):
    """What a route served: set by the route, timed and logged by the request middleware."""

    endpoint: str
    user_id: int | None
    model_version: str | None
    movie_ids: list[int]
    scores: list[float]
    is_fallback: bool = False
    fallback_reason: str | None = None


class LogEntry(NamedTuple):
    """One served request with its start time and server-side latency: one log row."""

    timestamp_us: int  # UTC, microseconds since the Unix epoch (`time.time_ns() // 1000`)
    latency_ms: float
    endpoint: str
    user_id: int | None
    model_version: str | None
    movie_ids: list[int]
    scores: list[float]
    is_fallback: bool
    fallback_reason: str | None

    @classmethod
    def of(cls, served: ServedRequest, timestamp_us: int, latency_ms: float) -> LogEntry:
        return cls(timestamp_us, latency_ms, *served)


def _random_hex(n_bytes: int) -> str:
    return f"lower(hex(randomblob({n_bytes})))"


# A random UUID (version 4, RFC 4122 variant) in its canonical text form, drawn by SQLite.
UUID4_SQL = " || ".join(
    [
        _random_hex(4),
        "'-'",
        _random_hex(2),
        "'-4'",
        f"substr({_random_hex(2)}, 2)",
        "'-'",
        "substr('89ab', 1 + (random() & 3), 1)",
        f"substr({_random_hex(2)}, 2)",
        "'-'",
        _random_hex(6),
    ]
)


def _field(name: str, as_json: bool = False) -> str:
    """SQL for the `LogEntry` field `name` of `value` (one entry as a JSON array): its SQL
    value, or with `as_json` its JSON text."""
    return f"value {'->' if as_json else '->>'} {LogEntry._fields.index(name)}"


def _column_sql(column: str) -> str:
    """The SQL that computes `column` of `request_logs` from one `LogEntry`."""
    if column == "request_id":
        return UUID4_SQL
    if column == "timestamp":  # `request_log.TIMESTAMP_FORMAT`
        micros = _field("timestamp_us")
        return (
            f"strftime('%Y-%m-%d %H:%M:%S', {micros} / 1000000, 'unixepoch') "
            f"|| printf('.%06d', {micros} % 1000000)"
        )
    if column == "recommendations":
        return _field("movie_ids", as_json=True)
    if column == "scores":
        return _field("scores", as_json=True)
    if column == "fallback_reason":
        return f"iif({_field('is_fallback')}, {_field('fallback_reason')}, NULL)"
    return _field(column)


# One statement per batch: `executemany` would release and re-take the interpreter lock for
# every row, and each re-take waits for the event loop.
INSERT_BATCH = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
    f"SELECT {', '.join(_column_sql(column) for column in COLUMNS)} FROM json_each(?)"
)


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
                conn.execute(INSERT_BATCH, (json.dumps(batch, allow_nan=False),))
        except (sqlite3.Error, OverflowError, ValueError):
            log.exception("could not write %d request-log rows to %s", len(batch), self.db_path)
            with self._lock:
                self._failed += len(batch)
            return
        with self._lock:
            self._written += len(batch)
