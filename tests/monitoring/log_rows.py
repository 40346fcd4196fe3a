"""Request-log and feedback databases with known content, through the store's real schema."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert

from movierec.store.database import Database, create_engine
from movierec.store.schema import upgrade
from movierec.store.tables import feedback_events, request_logs


@dataclass
class Row:
    """One logged request; defaults make a non-fallback /recommend answer."""

    timestamp: datetime
    endpoint: str = "/recommend"
    user_id: int | None = None
    recommendations: list[int] = field(default_factory=list)
    latency_ms: float = 1.0
    model_version: str | None = "v1"
    fallback_reason: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Event:
    """One feedback event; `request_id` None means the client sent none."""

    request_id: str | None
    movie_id: int
    event: str = "click"
    value: float | None = None
    user_id: int = 1
    request_known: bool = True
    created_at: float = 1_714_564_800.0  # 2024-05-01 12:00 UTC, the log's hour


def write_log(database: Database, rows: list[Row]) -> Database:
    """Insert `rows` into a fresh log in `database` (a SQLite file or a store URL)."""
    upgrade(database)
    engine = create_engine(database)
    with engine.begin() as conn:
        for row in rows:
            conn.execute(
                insert(request_logs).values(
                    request_id=row.request_id,
                    timestamp=row.timestamp,
                    user_id=row.user_id,
                    endpoint=row.endpoint,
                    model_version=row.model_version,
                    recommendations=json.dumps(row.recommendations),
                    scores=json.dumps(
                        [1.0 / (rank + 1) for rank in range(len(row.recommendations))]
                    ),
                    latency_ms=row.latency_ms,
                    is_fallback=row.fallback_reason is not None,
                    fallback_reason=row.fallback_reason,
                )
            )
    engine.dispose()
    return database


def write_feedback(database: Database, events: list[Event]) -> Database:
    """Insert `events` into the feedback table of `database` (created when missing)."""
    upgrade(database)
    engine = create_engine(database)
    with engine.begin() as conn:
        for event in events:
            conn.execute(
                insert(feedback_events).values(
                    user_id=event.user_id,
                    movie_id=event.movie_id,
                    event=event.event,
                    value=event.value,
                    request_id=event.request_id,
                    request_known=event.request_known,
                    model_version=None,
                    created_at=event.created_at,
                )
            )
    engine.dispose()
    return database
