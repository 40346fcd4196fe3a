"""A hand-made request log whose KPIs and replay results are computed by hand in the tests."""

from __future__ import annotations

from datetime import datetime

import pytest

from movierec.store.database import Database
from tests.monitoring.log_rows import Row, write_log

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


@pytest.fixture
def known_log(database: Database) -> Database:
    """The hand-made log in each backend of the store (a SQLite file, PostgreSQL)."""
    return write_log(database, KNOWN_ROWS)


@pytest.fixture
def known_log_rows() -> list[Row]:
    return list(KNOWN_ROWS)
