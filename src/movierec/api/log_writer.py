"""The request-log writer process: inserts the batches the API sends it into SQLite.

`movierec.api.logger.RequestLogger` starts one per API process and sends it batches of
`LogEntry` tuples through a pipe (pickled: a few hundred nanoseconds per row of the API's
time); this process turns them into `request_logs` rows, inserts each batch in one
transaction and answers `(written, failed)`. An empty message, or the pipe closing because
the API is gone, ends it once everything received is written. SQLite draws the request id and
formats the timestamp.
"""

from __future__ import annotations

import json
import logging
import pickle
import signal
import sqlite3
from multiprocessing.connection import Connection
from pathlib import Path

from movierec.api.logger import LogEntry
from movierec.request_log import COLUMNS, TABLE, connect_writer

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


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


def _field(name: str) -> str:
    """The numbered parameter of the `LogEntry` field `name`."""
    return f"?{LogEntry._fields.index(name) + 1}"


def _column_sql(column: str) -> str:
    """The SQL that computes `column` of `request_logs` from one `LogEntry`'s parameters."""
    if column == "request_id":
        return UUID4_SQL
    if column == "timestamp":  # `request_log.TIMESTAMP_FORMAT`
        micros = _field("timestamp_us")
        return (
            f"strftime('%Y-%m-%d %H:%M:%S', {micros} / 1000000, 'unixepoch') "
            f"|| printf('.%06d', {micros} % 1000000)"
        )
    if column == "recommendations":
        return _field("movie_ids")
    if column == "fallback_reason":
        return f"iif({_field('is_fallback')}, {_field('fallback_reason')}, NULL)"
    return _field(column)


INSERT = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(_column_sql(column) for column in COLUMNS)})"
)
_MOVIE_IDS, _IS_FALLBACK = (LogEntry._fields.index(name) for name in ("movie_ids", "is_fallback"))


def _parameters(entry: tuple) -> list[object]:
    """One entry's values for `INSERT`: the movie ids as JSON text, the flag as 0 or 1 (the
    scores arrive as the answer's JSON text)."""
    values = list(entry)
    values[_MOVIE_IDS] = json.dumps(values[_MOVIE_IDS], allow_nan=False)
    values[_IS_FALLBACK] = int(values[_IS_FALLBACK])
    return values


def write_batch(conn: sqlite3.Connection, entries: list[tuple]) -> tuple[int, int]:
    """Insert `entries` (`LogEntry` tuples) in one transaction; `(written, failed)`."""
    try:
        with conn:
            conn.executemany(INSERT, [_parameters(entry) for entry in entries])
    except (sqlite3.Error, OverflowError, TypeError, ValueError):
        log.exception("could not write %d request-log rows", len(entries))
        return 0, len(entries)
    return len(entries), 0


def run(connection: Connection, db_path: str) -> None:
    """The process: write each batch received on `connection` and answer with its counts."""
    # Ctrl-C reaches the whole process group; the API ends this process after its last batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = connect_writer(Path(db_path))
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        while True:
            try:
                payload = connection.recv_bytes()
            except (EOFError, OSError):
                return  # the API is gone
            if not payload:
                return
            counts = write_batch(conn, pickle.loads(payload))
            try:
                connection.send(counts)
            except OSError:
                return
    finally:
        conn.close()
