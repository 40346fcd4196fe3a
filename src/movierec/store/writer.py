"""The store's batching writer: appends to any table, off the caller's path.

Callers `put` items (plain tuples) on a bounded in-memory queue and return at once. A sender
thread takes the queue in batches, every `flush_interval_s` or every `batch_size` items,
whichever comes first, and hands each batch to a writer process, whose one thread turns each
item into a row with the table's `RowBuilder` and inserts the batch in one transaction (an
executemany of SQLAlchemy Core's `insert(table)`), then answers with what it wrote. A full
queue drops the item and counts it, so a caller never blocks; `stop` writes everything still
queued. A `maintenance` task (the request log's retention) runs in the writer process every
`maintenance_interval_s`, between batches. Several processes may write to one database:
SQLite runs in WAL mode and each writer waits for the write lock (`movierec.store.database`).

Why a process: a thread shares the interpreter lock with the caller's event loop, and making
rows and SQL parameters is Python work. Even at a few microseconds per row, done by a thread
in the API it cost /recommend a tenth of its throughput (0.65x /health with it, 0.75x with no
logging at all, wrk against one worker); here the caller's share is pickling the batch, under
a microsecond per row.

Usage (the request log is the first table to use it, `movierec.api.logger`):
    >>> writer = BatchWriter(Path("data/logs/requests.db"), request_logs, log_row, 10_000, 256, 0.5)
    >>> writer.start(); writer.put(entry); writer.stop()
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import Engine, Table, insert
from sqlalchemy.exc import SQLAlchemyError

from movierec.store.database import Database, create_engine
from movierec.store.tables import metadata

log = logging.getLogger(__name__)

# One queued item (a tuple) as a row of the table: column name -> value. It runs in the
# writer process, so it must be a module-level function (pickled by name).
RowBuilder = Callable[[tuple[Any, ...]], dict[str, Any]]
# Periodic work on the store in the writer process (picklable too, e.g. a functools.partial).
Maintenance = Callable[[Engine], None]


@dataclass(frozen=True)
class WriterStats:
    queued: int
    written: int
    dropped: int
    failed: int


class BatchWriter:
    """Bounded in-memory queue, a batching sender thread and one writer process, for `table`.

    `put` only appends to a list under a lock: the sender is woken once per full batch, not
    once per item (a wake-up per request, as `queue.Queue` does, costs the event loop more
    interpreter-lock hand-overs than the whole insert).
    """

    def __init__(
        self,
        database: Database,
        table: Table,
        row_builder: RowBuilder,
        queue_size: int,
        batch_size: int,
        flush_interval_s: float,
        maintenance: Maintenance | None = None,
        maintenance_interval_s: float = 300.0,
    ) -> None:
        self.database = database
        self.table = table
        self.row_builder = row_builder
        self.maintenance = maintenance
        self.maintenance_interval_s = maintenance_interval_s
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._pending: list[tuple[Any, ...]] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()  # one sender at a time: the thread or `flush`
        self._queued = self._written = self._dropped = self._failed = 0

    def start(self, ready_timeout_s: float = 120.0) -> None:
        """Bring the store's schema up to date (so a bad path or URL fails now, as a
        `StoreError`), then start the writer process, wait until it is ready to write (a
        spawned process takes a while to import; items queued meanwhile would reach the store
        that much later), and start the sender thread."""
        from movierec.store.schema import upgrade  # not in the writer process: no Alembic there

        upgrade(self.database)
        context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(
            target=run,
            args=(
                child_end,
                self.database,
                self.table.name,
                self.row_builder,
                self.maintenance,
                self.maintenance_interval_s,
            ),
            name=f"movierec-{self.table.name}-writer",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        if not self._pipe.poll(ready_timeout_s):
            log.error(
                "the %s writer process is not ready after %.0f s", self.table.name, ready_timeout_s
            )
        else:
            with contextlib.suppress(EOFError, OSError):  # gone: `_send` counts the rows lost
                self._pipe.recv_bytes()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"{self.table.name}-sender", daemon=True
        )
        self._thread.start()

    def put(self, item: tuple[Any, ...]) -> bool:
        """Queue `item` without blocking; False (and counted as dropped) when the queue is full."""
        with self._lock:
            if len(self._pending) >= self.queue_size:
                self._dropped += 1
                return False
            self._pending.append(item)
            self._queued += 1
            full = len(self._pending) >= self.batch_size
        if full and not self._wake.is_set():
            self._wake.set()
        return True

    def put_all(self, items: Sequence[tuple[Any, ...]]) -> bool:
        """Queue all of `items` or, when they do not fit, none (counted as dropped)."""
        with self._lock:
            if len(self._pending) + len(items) > self.queue_size:
                self._dropped += len(items)
                return False
            self._pending.extend(items)
            self._queued += len(items)
            full = len(self._pending) >= self.batch_size
        if full and not self._wake.is_set():
            self._wake.set()
        return True

    def flush(self) -> None:
        """Write everything queued so far before returning (blocks; not for the event loop)."""
        self._send_queued(everything=True)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write every queued item, then stop the sender thread and the writer process."""
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

    def stats(self) -> WriterStats:
        with self._lock:
            return WriterStats(self._queued, self._written, self._dropped, self._failed)

    def _take(self, everything: bool) -> list[tuple[Any, ...]]:
        """Remove and return the queued items: all of them, or only the full batches."""
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
            self._send_queued(everything=due or stopping)
            if stopping:
                return
            if due:
                deadline = time.monotonic() + self.flush_interval_s
            self._wake.wait(max(0.0, deadline - time.monotonic()))

    def _send_queued(self, everything: bool) -> None:
        """Take the queued items (see `_take`) and send them in batches; one caller at a time,
        so that when `flush` returns nothing taken before it is still on its way."""
        with self._send_lock:
            batch = self._take(everything)
            for start in range(0, len(batch), self.batch_size):
                self._send(batch[start : start + self.batch_size])

    def _send(self, batch: list[tuple[Any, ...]]) -> None:
        """Hand `batch` to the writer process and wait for its counts."""
        assert self._pipe is not None
        try:
            self._pipe.send_bytes(pickle.dumps([tuple(item) for item in batch]))
            written, failed = self._pipe.recv()
        except (OSError, EOFError):
            log.error(
                "the %s writer process is gone; %d rows not written", self.table.name, len(batch)
            )
            written, failed = 0, len(batch)
        with self._lock:
            self._written += written
            self._failed += failed


def write_batch(
    engine: Engine, table: Table, row_builder: RowBuilder, items: list[tuple[Any, ...]]
) -> tuple[int, int]:
    """Insert `items` as rows of `table` in one transaction; `(written, failed)`.

    An item its builder refuses (say a NaN where JSON is due) costs that row only; a batch
    the database refuses costs the batch.
    """
    rows = []
    for item in items:
        try:
            rows.append(row_builder(item))
        except (OverflowError, TypeError, ValueError):
            log.exception("could not turn an item into a %s row", table.name)
    refused = len(items) - len(rows)
    if not rows:
        return 0, refused
    try:
        with engine.begin() as conn:
            conn.execute(insert(table), rows)
    except SQLAlchemyError:
        log.exception("could not write %d %s rows", len(rows), table.name)
        return 0, len(items)
    return len(rows), refused


def run(
    connection: Connection,
    database: Database,
    table_name: str,
    row_builder: RowBuilder,
    maintenance: Maintenance | None = None,
    maintenance_interval_s: float = 300.0,
) -> None:
    """The writer process: write each batch received on `connection`, answer its counts, and
    run `maintenance` every `maintenance_interval_s` (first at start).

    An empty message, or the pipe closing because the caller is gone, ends it once everything
    received is written.
    """
    # Ctrl-C reaches the whole process group; the caller ends this process after its last batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = create_engine(database)
    table = metadata.tables[table_name]
    due = time.monotonic()
    try:
        connection.send_bytes(b"ready")
        while True:
            if maintenance is not None:
                if time.monotonic() >= due:
                    maintenance(engine)
                    due = time.monotonic() + maintenance_interval_s
                if not connection.poll(max(0.0, due - time.monotonic())):
                    continue
            try:
                payload = connection.recv_bytes()
            except (EOFError, OSError):
                return  # the caller is gone
            if not payload:
                return
            counts = write_batch(engine, table, row_builder, pickle.loads(payload))
            try:
                connection.send(counts)
            except OSError:
                return
    finally:
        engine.dispose()
