"""Feedback events written straight into a store, for tests of what reads them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import insert

from movierec.store.database import create_engine
from movierec.store.schema import upgrade
from movierec.store.tables import feedback_events

Event = tuple[int, int, str, float | None, float]  # user, movie, event, value, created_at


def write_events(path: Path, events: Sequence[Event]) -> None:
    """Append `events` to the SQLite store at `path` (ids in order), creating its tables."""
    upgrade(path)
    engine = create_engine(path)
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
