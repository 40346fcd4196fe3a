"""Read the request log from the store into pandas, restricted to a time window.

The log is the store's `request_logs` table (`movierec.store.tables`), on SQLite or PostgreSQL:
queries are SQLAlchemy Core, so both answer alike. Timestamps are UTC without a time zone;
naive datetimes are taken as UTC, aware ones are converted to UTC. A window is a range on the
indexed `timestamp` column.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    Selectable,
    cast,
    func,
    inspect,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import SQLAlchemyError

from movierec.store.database import Database, StoreError, create_engine, sqlite_file, unreachable
from movierec.store.tables import request_logs


def to_log_time(moment: datetime) -> datetime:
    """`moment` as the log's time: UTC, without a time zone."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def in_window(since: datetime | None, until: datetime | None) -> ColumnElement[bool]:
    """The condition `since <= timestamp < until` (an open end when None)."""
    condition: ColumnElement[bool] = true()
    if since is not None:
        condition &= request_logs.c.timestamp >= to_log_time(since)
    if until is not None:
        condition &= request_logs.c.timestamp < to_log_time(until)
    return condition


def recommended_items(
    conn: Connection,
) -> tuple[FromClause, ColumnElement[int], ColumnElement[int]]:
    """Each logged movie id beside its request: a table function to join to `request_logs`
    (`ON true`), its position in the answer (from 0) and the movie id."""
    column = request_logs.c.recommendations
    if conn.dialect.name == "postgresql":
        items = func.jsonb_array_elements_text(cast(column, JSONB)).table_valued(
            "value", with_ordinality="ordinality"
        )
        return items, items.c.ordinality - 1, cast(items.c.value, Integer)
    items = func.json_each(column).table_valued("key", "value")
    return items, items.c.key, items.c.value


def answer_length(conn: Connection) -> ColumnElement[int]:
    """The number of movies of each logged answer (the length of `recommendations`)."""
    column = request_logs.c.recommendations
    if conn.dialect.name == "postgresql":
        return func.jsonb_array_length(cast(column, JSONB))
    return func.json_array_length(column)


@contextmanager
def open_log(database: Database) -> Iterator[Connection | None]:
    """A connection for reading the log, or None when the database or its table does not exist
    yet; `StoreError` when the database cannot be reached."""
    path = sqlite_file(database)
    if path is not None and not path.is_file():
        yield None
        return
    engine = create_engine(database, read_only=True)
    try:
        try:
            conn = engine.connect()
            exists = inspect(conn).has_table(request_logs.name)
        except SQLAlchemyError as exc:
            raise StoreError(unreachable(engine, exc)) from exc
        with conn:
            yield conn if exists else None
    finally:
        engine.dispose()


def query_frame(
    conn: Connection, statement: Selectable, time_columns: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Run `statement` and parse the named columns as UTC-naive datetimes."""
    frame = pd.read_sql_query(statement, conn)
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


def time_span(database: Database) -> tuple[datetime, datetime] | None:
    """First and last request time in the log; None when it holds no request."""
    timestamp = request_logs.c.timestamp
    with open_log(database) as conn:
        if conn is None:
            return None
        first, last = conn.execute(select(func.min(timestamp), func.max(timestamp))).one()
    if first is None:
        return None
    return first, last
