"""The request logger: one row per served request into SQLite, off the request path.

Requests put a `LogEntry` on a bounded in-memory queue and return at once. A sender thread
takes the queue in batches, every `flush_interval_s` or every `batch_size` entries, whichever
comes first, and hands each batch to a writer process (`movierec.api.log_writer`), which
inserts it in one transaction and answers with what it wrote. A full queue drops the entry
and counts it, so logging never blocks a request; `stop` writes everything still queued.
Several API processes may write to the same database: it is in WAL mode and each writer waits
up to `busy_timeout` for the write lock.

Why a process: a thread shares the interpreter lock with the event loop, and turning rows
into SQL parameters is Python work. Even at a few microseconds per row, done by a thread it
cost /recommend a tenth of its throughput (0.65x /health with it, 0.75x with no logging at
all, wrk against one worker); here the API's share is pickling the batch, under a microsecond
per row.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import NamedTuple

from movierec.request_log import connect_writer

log = logging.getLogger(__name__)


class ServedRequest(NamedTuple):
    """What a route served: set by the route, timed and logged by the request middleware."""

    endpoint: str
    user_id: int | None
    model_version: str | None
    movie_ids: list[int]
    scores: str  # a JSON array, exactly as in the answer
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
    scores: str
    is_fallback: bool
    fallback_reason: str | None

    @classmethod
    def of(cls, served: ServedRequest, timestamp_us: int, latency_ms: float) -> LogEntry:
        return cls(timestamp_us, latency_ms, *served)


@dataclass(frozen=True)
class LoggerStats:
    queued: int
    written: int
    dropped: int
    failed: int


class RequestLogger:
    """Bounded in-memory queue, a batching sender thread and one writer process.

    `log` only appends to a list under a lock: the sender is woken once per full batch, not
    once per entry (a wake-up per request, as `queue.Queue` does, costs the event loop more
    interpreter-lock hand-overs than the whole insert).
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
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._lock = threading.Lock()
        self._queued = self._written = self._dropped = self._failed = 0

    def start(self) -> None:
        """Create the database and table (so a bad path fails now), start the writer process
        and the sender thread."""
        from movierec.api import log_writer  # it imports `LogEntry` from here

        connect_writer(self.db_path).close()
        context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(
            target=log_writer.run,
            args=(child_end, str(self.db_path)),
            name="movierec-request-log",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="request-log-sender", daemon=True)
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
        """Write every queued entry, then stop the sender thread and the writer process."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._process is not None and self._pipe is not None:
            with contextlib.suppress(OSError):  # already gone
                self._pipe.send_bytes(b"")  # the writer's signal to end
            self._process.join(timeout_s)
            if self._process.is_alive():
                self._process.terminate()
            self._pipe.close()
            self._process = self._pipe = None

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

    def _run(self) -> None:
        deadline = time.monotonic() + self.flush_interval_s
        while True:
            self._wake.clear()
            stopping = self._stopping.is_set()
            due = time.monotonic() >= deadline
            batch = self._take(everything=due or stopping)
            for start in range(0, len(batch), self.batch_size):
                self._send(batch[start : start + self.batch_size])
            if stopping:
                return
            if due:
                deadline = time.monotonic() + self.flush_interval_s
            self._wake.wait(max(0.0, deadline - time.monotonic()))

    def _send(self, batch: list[LogEntry]) -> None:
        """Hand `batch` to the writer process and wait for its counts."""
        assert self._pipe is not None
        try:
            self._pipe.send_bytes(pickle.dumps([tuple(entry) for entry in batch]))
            written, failed = self._pipe.recv()
        except (OSError, EOFError):
            log.error("the request-log writer process is gone; %d rows not written", len(batch))
            written, failed = 0, len(batch)
        with self._lock:
            self._written += written
            self._failed += failed
