"""Feedback in the store: event ids, event rows, the reads every worker follows, erasure and
the users created through the API.

Event ids are minted by the API process that accepts an event, so that its 202 can name the
event before the batching writer has stored it. An id is `(ms << 22) | (source << 6) | n`:
the milliseconds since 2024-01-01 (41 bits, about 69 years), the process's source number
(16 bits, a row of `feedback_sources` drawn at start, so no two running processes share
one) and a counter within the millisecond (6 bits; a 65th event borrows the next
millisecond). Ids therefore grow with time across all processes, and a reader that wants
every event committed after time t reads `event_id >= first_id_at(t)` on the primary key.
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Engine, delete, func, insert, literal_column, select
from sqlalchemy.exc import IntegrityError

from movierec.store.database import StoreError
from movierec.store.tables import app_users, feedback_erasures, feedback_events, feedback_sources

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
SOURCE_BITS, COUNTER_BITS = 16, 6  # SOURCE_BITS: the mask in `events_since` is 65535
MAX_COUNTER = (1 << COUNTER_BITS) - 1


def first_id_at(unix_seconds: float) -> int:
    """The smallest event id any process mints at `unix_seconds` or later."""
    return max(0, int(unix_seconds * 1000) - EPOCH_MS) << (SOURCE_BITS + COUNTER_BITS)


class EventIds:
    """Mints this process's event ids, increasing, never one another process mints.

    >>> ids = EventIds(source=3)
    >>> first, second = ids.mint(), ids.mint()
    >>> second > first and (first >> 6) & 0xFFFF == 3
    True
    """

    def __init__(self, source: int) -> None:
        self.source = source % (1 << SOURCE_BITS)
        self._last_ms = 0
        self._counter = 0
        self._lock = threading.Lock()

    def mint(self) -> int:
        with self._lock:
            now_ms = int(time.time() * 1000) - EPOCH_MS
            if now_ms > self._last_ms:
                self._last_ms, self._counter = now_ms, 0
            elif self._counter < MAX_COUNTER:
                self._counter += 1
            else:
                self._last_ms, self._counter = self._last_ms + 1, 0
            return (
                (self._last_ms << (SOURCE_BITS + COUNTER_BITS))
                | (self.source << COUNTER_BITS)
                | self._counter
            )


def draw_source(engine: Engine) -> int:
    """A fresh source number for this process (a new row of `feedback_sources`)."""
    with engine.begin() as conn:
        query = insert(feedback_sources).values(created_at=time.time())
        source_id = conn.execute(query.returning(feedback_sources.c.source_id)).scalar_one()
    return int(source_id)


class FeedbackEvent(NamedTuple):
    """One accepted event, as queued for the writer (and as the row it becomes)."""

    event_id: int
    user_id: int
    movie_id: int
    event: str
    value: float | None
    request_id: str | None
    request_known: bool
    model_version: str | None
    created_at: float


COLUMNS = FeedbackEvent._fields


def event_row(item: tuple[Any, ...]) -> dict[str, Any]:
    """A `FeedbackEvent` (the plain tuple the writer process receives) as a row."""
    return dict(zip(COLUMNS, item, strict=True))


def events_since(
    engine: Engine, first_event_id: int, other_than: int | None = None
) -> list[FeedbackEvent]:
    """Every stored event with an id of at least `first_event_id`, in id order; without the
    events of source `other_than` (a process's own, which it knows already)."""
    event_id = feedback_events.c.event_id
    query = (
        select(*[feedback_events.c[name] for name in COLUMNS])
        .where(event_id >= first_event_id)
        .order_by(event_id)
    )
    if other_than is not None:
        # Inline numbers: PostgreSQL has `bigint >> integer`, not the `bigint >> bigint` a
        # bound parameter would ask for.
        shift = literal_column(str(COUNTER_BITS), BigInteger)
        source = event_id.op(">>")(shift).op("&")(literal_column("65535", BigInteger))
        query = query.where(source != other_than)
    with engine.connect() as conn:
        return [FeedbackEvent(*row) for row in conn.execute(query)]


def events_of(engine: Engine, user_id: int, limit: int) -> list[FeedbackEvent]:
    """The user's stored events, newest first, at most `limit` of them."""
    event_id = feedback_events.c.event_id
    query = (
        select(*[feedback_events.c[name] for name in COLUMNS])
        .where(feedback_events.c.user_id == user_id)
        .order_by(event_id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [FeedbackEvent(*row) for row in conn.execute(query)]


class Erasure(NamedTuple):
    user_id: int
    up_to_event_id: int


def erasures_since(engine: Engine, unix_seconds: float) -> list[Erasure]:
    """The erasures recorded at `unix_seconds` or later."""
    table = feedback_erasures
    query = select(table.c.user_id, table.c.up_to_event_id).where(
        table.c.created_at >= unix_seconds
    )
    with engine.connect() as conn:
        return [Erasure(*row) for row in conn.execute(query)]


def erase_user_events(engine: Engine, user_id: int, up_to_event_id: int) -> int:
    """Delete the user's events up to `up_to_event_id` and record the erasure, in one
    transaction; the number of events deleted."""
    table = feedback_events
    with engine.begin() as conn:
        deleted = conn.execute(
            delete(table).where(table.c.user_id == user_id, table.c.event_id <= up_to_event_id)
        ).rowcount
        conn.execute(
            insert(feedback_erasures).values(
                user_id=user_id,
                up_to_event_id=up_to_event_id,
                deleted=deleted,
                created_at=time.time(),
            )
        )
    return int(deleted)


def users_since(engine: Engine, unix_seconds: float) -> list[int]:
    """The ids of the users created through the API at `unix_seconds` or later."""
    query = select(app_users.c.user_id).where(app_users.c.created_at >= unix_seconds)
    with engine.connect() as conn:
        return [int(user_id) for user_id in conn.scalars(query)]


def create_user(engine: Engine, above: int, attempts: int = 20) -> int:
    """A new user id, above `above` and every id created before (another process creating one
    at the same moment makes this one try the next id)."""
    for _ in range(attempts):
        try:
            with engine.begin() as conn:
                largest = conn.scalar(select(func.max(app_users.c.user_id))) or 0
                user_id = max(int(largest), above) + 1
                conn.execute(insert(app_users).values(user_id=user_id, created_at=time.time()))
            return user_id
        except IntegrityError:
            continue
    raise StoreError(f"could not create a user id in {attempts} attempts; try again")
