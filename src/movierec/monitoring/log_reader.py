"""Read the request log into pandas, restricted to a time window.

Timestamps in the log are UTC text in `request_log.TIMESTAMP_FORMAT`, which sorts like time,
so a window is a plain text comparison that the timestamp index serves. Naive datetimes are
taken as UTC; aware ones are converted to UTC.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from movierec.request_log import TABLE, TIMESTAMP_FORMAT, connect_reader


def to_log_time(moment: datetime) -> str:
    """`moment` as the log's UTC timestamp text."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime(TIMESTAMP_FORMAT)


def window_clause(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    """SQL condition (without WHERE) and parameters for `since <= timestamp < until`."""
    conditions = ["1 = 1"]
    params: list[Any] = []
    if since is not None:
        conditions.append("timestamp >= ?")
        params.append(to_log_time(since))
    if until is not None:
        conditions.append("timestamp < ?")
        params.append(to_log_time(until))
    return " AND ".join(conditions), params


@contextmanager
def open_log(log_db: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection, or None when the database or its table does not exist yet."""
    conn = connect_reader(log_db)
    if conn is None:
        yield None
        return
    with closing(conn):
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
        ).fetchone()
        yield conn if exists else None


def query_frame(
    conn: sqlite3.Connection, sql: str, params: list[Any], time_columns: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Run `sql` and parse the named columns as UTC-naive datetimes."""
    frame = pd.read_sql_query(sql, conn, params=params)
    for column in time_columns:
        frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    return frame


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TimeParseError(ValueError):
    """A --since/--until value is neither a duration like `15m` nor an ISO 8601 time."""


def parse_moment(text: str, now: datetime) -> datetime:
    """`15m`, `1h`, `24h`, `7d`, `30s` mean that long before `now`; anything else is ISO 8601."""
    value, unit = text[:-1], text[-1:].lower()
    if unit in _UNITS and value.isdigit():
        return now - timedelta(seconds=int(value) * _UNITS[unit])
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise TimeParseError(
            f"cannot read time {text!r}: use a duration before now such as 15m, 1h, 7d "
            "or an ISO 8601 time such as 2024-05-01T12:00"
        ) from exc


def time_span(log_db: Path) -> tuple[datetime, datetime] | None:
    """First and last request time in the log; None when it holds no request."""
    with open_log(log_db) as conn:
        if conn is None:
            return None
        first, last = conn.execute(f"SELECT MIN(timestamp), MAX(timestamp) FROM {TABLE}").fetchone()
    if first is None:
        return None
    return datetime.fromisoformat(first), datetime.fromisoformat(last)
