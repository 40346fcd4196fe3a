"""Feedback in the store, on SQLite and PostgreSQL: event ids, reading by id and source,
erasure with its record, and users created above the dataset's ids."""

from __future__ import annotations

import time

from movierec.store.database import Database, create_engine
from movierec.store.feedback import (
    EventIds,
    FeedbackEvent,
    create_user,
    draw_source,
    erase_user_events,
    erasures_since,
    event_row,
    events_since,
    first_id_at,
    users_since,
)
from movierec.store.schema import upgrade
from movierec.store.tables import feedback_events
from movierec.store.writer import write_batch


def test_ids_grow_never_repeat_and_follow_time() -> None:
    before = first_id_at(time.time())
    first, second = EventIds(1), EventIds(2)
    minted = [ids.mint() for _ in range(300) for ids in (first, second)]
    assert len(set(minted)) == len(minted)
    own = [i for i in minted if (i >> 6) & 0xFFFF == 1]
    assert own == sorted(own) and len(own) == 300  # 300 in a few ms: the counter rolls over
    assert min(minted) >= before and max(minted) < first_id_at(time.time() + 1)


def test_events_are_read_by_id_and_source_and_erased_with_a_record(database: Database) -> None:
    upgrade(database)
    engine = create_engine(database)
    mine, theirs = EventIds(draw_source(engine)), EventIds(draw_source(engine))
    assert mine.source != theirs.source
    now = time.time()
    events = [
        FeedbackEvent(ids.mint(), user, 10 + n, "rating", 4.5, None, False, "v1", now)
        for n, (ids, user) in enumerate([(mine, 1), (theirs, 1), (theirs, 2), (mine, 2)])
    ]
    assert write_batch(engine, feedback_events, event_row, [tuple(e) for e in events]) == (4, 0)
    assert events_since(engine, 0) == sorted(events)
    others = events_since(engine, first_id_at(now - 1), other_than=mine.source)
    assert others == sorted([events[1], events[2]])
    assert events_since(engine, first_id_at(now + 60)) == []
    assert erase_user_events(engine, 1, up_to_event_id=mine.mint()) == 2
    assert [e.user_id for e in events_since(engine, 0)] == [2, 2]
    (erasure,) = erasures_since(engine, now)
    assert erasure.user_id == 1 and erasure.up_to_event_id > events[1].event_id
    engine.dispose()


def test_created_users_lie_above_the_given_id_and_each_other(database: Database) -> None:
    upgrade(database)
    engine = create_engine(database)
    started = time.time()
    first = create_user(engine, above=999)
    second = create_user(engine, above=999)
    assert (first, second) == (1000, 1001)
    assert create_user(engine, above=9_999) == 10_000
    assert sorted(users_since(engine, started)) == [1000, 1001, 10_000]
    engine.dispose()
