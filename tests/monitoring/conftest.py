"""A hand-made request log whose KPIs and replay results are computed by hand in the tests."""

from __future__ import annotations

from datetime import datetime

import pytest

from movierec.store.database import Database
from tests.monitoring.log_rows import Event, Row, write_log

T0 = datetime(2024, 5, 1, 12, 0, 0)


def at(minute: int, second: int) -> datetime:
    return T0.replace(minute=minute, second=second)


KNOWN_ROWS = [
    Row(at(0, 5), user_id=1, recommendations=[1, 2, 3], latency_ms=1.0),
    Row(at(0, 10), "/similar", recommendations=[2, 3], latency_ms=5.0),
    Row(at(0, 30), user_id=2, recommendations=[1, 2, 4], latency_ms=2.0),
    Row(at(1, 10), user_id=2, recommendations=[1, 5, 6], latency_ms=3.0, model_version="v2"),
    Row(
        at(1, 20),
        user_id=999,
        recommendations=[1, 2, 3],
        latency_ms=4.0,
        model_version="v2",
        fallback_reason="unknown_user",
    ),
    Row(at(1, 40), "/popular", recommendations=[1, 2], latency_ms=0.5, model_version="v2"),
    Row(
        at(2, 0),
        user_id=3,
        recommendations=[7, 8, 9],
        latency_ms=10.0,
        model_version="v2",
        fallback_reason="no_candidates",
    ),
]

R0, R1, R2, R3, R4, _, R6 = (row.request_id for row in KNOWN_ROWS)

# Feedback on those answers: the engagement KPIs are worked out by hand in test_engagement.
KNOWN_EVENTS = [
    Event(R0, 2),
    Event(R0, 2),  # a second click on the same shown movie counts once
    Event(R0, 2, "rating", 4.0),
    Event(R0, 9),  # movie 9 was not in r0's answer: ignored
    Event(R0, 3, "rating", 2.0),
    Event(R0, 3, "rating", 5.0),  # re-rated: the latest rating counts
    Event(R2, 4, "watch", user_id=2),
    Event(R2, 1, "dislike", user_id=2),
    Event(R3, 5, user_id=2),
    Event(R3, 5, "rating", 3.0, user_id=2),
    Event(R4, 1, user_id=999),
    Event(R1, 2),  # an answer of /similar: not a /recommend impression
    Event(None, 7, user_id=3),
    Event("never-served", 8, user_id=3, request_known=False),
]


@pytest.fixture
def known_log(database: Database) -> Database:
    """The hand-made log in each backend of the store (a SQLite file, PostgreSQL)."""
    return write_log(database, KNOWN_ROWS)


@pytest.fixture
def known_log_rows() -> list[Row]:
    return list(KNOWN_ROWS)
