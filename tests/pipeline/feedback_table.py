"""The `feedback_events` table of the shared store contract, for tests that write events.

The store owns the table; these tests create the same definition so that the merge is
tested against real rows of a real database, whichever branch created the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    insert,
)

from movierec.store.database import create_engine

metadata = MetaData()
feedback_events = Table(
    "feedback_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("movie_id", BigInteger, nullable=False),
    Column("event", Text, nullable=False),
    Column("value", Float),
    Column("request_id", Text),
    Column("request_known", Boolean, nullable=False),
    Column("model_version", Text),
    Column("created_at", Float, nullable=False),
    Index("idx_feedback_events_user_event", "user_id", "event_id"),
)

Event = tuple[int, int, str, float | None, float]  # user, movie, event, value, created_at


def write_events(path: Path, events: Sequence[Event]) -> None:
    """Append `events` to the SQLite store at `path`, creating the table when needed."""
    engine = create_engine(path)
    metadata.create_all(engine)
    rows = [
        {
            "user_id": user,
            "movie_id": movie,
            "event": event,
            "value": value,
            "request_known": False,
            "created_at": created_at,
        }
        for user, movie, event, value, created_at in events
    ]
    with engine.begin() as conn:
        conn.execute(insert(feedback_events), rows)
    engine.dispose()
