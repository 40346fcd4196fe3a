"""The feedback loop of one API process: accept events, store them, follow every worker's.

An accepted event gets an id at once (`movierec.store.feedback.EventIds`), goes on the queue
of the store's batching writer for `feedback_events` (nothing queued is lost on a graceful
stop: the writer writes it all first) and into this process's `UserProfiles`, so the next
/recommend it answers already uses it. A reader thread reads, every
`feedback_poll_interval_s`, the events other processes (workers, replicas) stored in the last
`LOOKBACK_S`, the erasures and the created users, so every worker knows an event within
about `feedback_flush_interval_s + feedback_poll_interval_s` of its acceptance. At start it
reads the whole table. The window assumes a writer commits an event within `LOOKBACK_S` of
its acceptance (a batch takes milliseconds); one committed later (a writer process that took
longer to start, a store that was down) is stored, and other workers use it from their
next start.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from movierec.api.request_ids import issued
from movierec.config import ServingSettings
from movierec.serving.profiles import UserEvent, UserProfiles
from movierec.store.database import Database, StoreError, create_engine, unreachable
from movierec.store.feedback import (
    EventIds,
    FeedbackEvent,
    create_user,
    draw_source,
    erase_user_events,
    erasures_since,
    event_row,
    events_of,
    events_since,
    first_id_at,
    users_since,
)
from movierec.store.tables import feedback_events
from movierec.store.writer import BatchWriter

log = logging.getLogger(__name__)

LOOKBACK_S = 2.0


def first_free_user_id_above(largest: int) -> int:
    """Where created user ids start: above the next power of ten over the dataset's largest
    id (MovieLens ids are dense from 1, so users held out of training lie below it too).

    >>> first_free_user_id_above(943), first_free_user_id_above(1000)
    (1000, 10000)
    """
    return 10 ** (math.floor(math.log10(max(largest, 1))) + 1)


class FeedbackLoop:
    """The writer, the in-memory profiles and the reader thread of one API process."""

    def __init__(self, database: Database, settings: ServingSettings) -> None:
        self.database = database
        self.writer = BatchWriter(
            database,
            feedback_events,
            event_row,
            settings.log_queue_size,
            settings.log_batch_size,
            settings.feedback_flush_interval_s,
        )
        self.poll_interval_s = settings.feedback_poll_interval_s
        self.profiles = UserProfiles()
        self.ids = EventIds(0)
        self._engine: Engine | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer (creating the tables), draw this process's source of event ids,
        read every stored event, then follow the store."""
        self.writer.start()
        self._engine = create_engine(self.database)
        try:
            self.ids = EventIds(draw_source(self._engine))
            self._follow(since=0.0)
        except SQLAlchemyError as exc:
            raise StoreError(unreachable(self._engine, exc)) from exc
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="feedback-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following, then write every queued event."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.writer.stop()
        if self._engine is not None:
            self._engine.dispose()

    def event(
        self,
        user_id: int,
        movie_id: int,
        kind: str,
        value: float | None,
        request_id: str | None,
        model_version: str | None,
    ) -> FeedbackEvent:
        """A new event with its id, flagged when it names a request this service never issued."""
        known = request_id is not None and issued(request_id)
        return FeedbackEvent(
            self.ids.mint(),
            user_id,
            movie_id,
            kind,
            value,
            request_id,
            known,
            model_version,
            time.time(),
        )

    def accept(self, events: list[FeedbackEvent]) -> bool:
        """Queue all `events` for the store and use them at once; False (nothing accepted)
        when the queue has no room for them all."""
        if not self.writer.put_all(events):
            return False
        self.profiles.add(user_events(events))
        return True

    def create_user(self, largest_user_id: int) -> int:
        """A new user id outside the dataset's range, registered with every worker."""
        engine = self._store()
        try:
            user_id = create_user(engine, first_free_user_id_above(largest_user_id) - 1)
        except SQLAlchemyError as exc:
            raise StoreError(unreachable(engine, exc)) from exc
        self.profiles.register([user_id])
        return user_id

    def erase(self, user_id: int) -> int:
        """Delete every event of the user accepted so far (this process's queue is written
        first); the number deleted. Every worker forgets them within a poll."""
        self.writer.flush()
        up_to = max(first_id_at(time.time() + 0.001) - 1, self.ids.mint())
        engine = self._store()
        try:
            deleted = erase_user_events(engine, user_id, up_to)
        except SQLAlchemyError as exc:
            raise StoreError(unreachable(engine, exc)) from exc
        self.profiles.erase(user_id, up_to)
        return deleted

    def history(self, user_id: int, limit: int) -> list[FeedbackEvent]:
        """The user's events, newest first (this process's queue is written first, so an
        event it accepted is there)."""
        self.writer.flush()
        engine = self._store()
        try:
            return events_of(engine, user_id, limit)
        except SQLAlchemyError as exc:
            raise StoreError(unreachable(engine, exc)) from exc

    def _store(self) -> Engine:
        if self._engine is None:
            raise StoreError("the feedback store is not open yet; retry in a moment")
        return self._engine

    def _run(self) -> None:
        while not self._stopping.wait(self.poll_interval_s):
            try:
                self._follow(since=time.time() - LOOKBACK_S, others_only=True)
            except SQLAlchemyError as exc:
                log.warning("could not read feedback: %s", unreachable(self._store(), exc))
            except Exception:  # the reader must outlive any one bad read (a raw driver error)
                log.exception("could not read feedback; trying again in the next poll")

    def _follow(self, since: float, others_only: bool = False) -> None:
        """Take in the events (`others_only`: of other processes), erasures and created users
        stored from `since` on."""
        engine = self._store()
        other_than = self.ids.source if others_only else None
        self.profiles.add(user_events(events_since(engine, first_id_at(since), other_than)))
        for erasure in erasures_since(engine, since):
            self.profiles.erase(*erasure)
        self.profiles.register(users_since(engine, since))


def user_events(events: Iterable[FeedbackEvent]) -> list[UserEvent]:
    return [
        UserEvent(event.event_id, event.user_id, event.movie_id, event.event, event.value)
        for event in events
    ]
