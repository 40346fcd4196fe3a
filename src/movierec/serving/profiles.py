"""What the service knows of a user beyond the model's training rows: their feedback events.

Events arrive through the API (`POST /feedback`, seed ratings of `POST /users`) and from the
store, where every worker's reader finds the events other workers accepted. `UserProfiles`
keeps them per user in memory and turns them into an immutable `Profile` for the engine:
one weight per movie on the scale of the training interactions (the default linear
confidence `1 + rating`), the movies to leave out, and whether the user was created through
the service. Per movie the latest rating or dislike decides; without one a watch, then a
click. How each event counts (`event_weight`):

| event   | weight                                 | left out of recommendations    |
|---------|----------------------------------------|--------------------------------|
| rating  | 1 + value when value >= 3, else -(6 - value) | when `exclude_seen`      |
| watch   | 4 (a rating of 3)                      | when `exclude_seen`            |
| click   | 2 (the weakest training interaction)   | no                             |
| dislike | -6 (as sure as a top rating)           | always                         |

A positive weight is a preference; a negative one is a confident non-preference (the ALS
fold-in) or pulls similar movies down (item weights).

Usage:
    >>> profiles = UserProfiles()
    >>> profiles.add([UserEvent(1, 7, 50, "rating", 4.5), UserEvent(2, 7, 60, "dislike", None)])
    >>> profile = profiles.get(7)
    >>> profile.movie_ids.tolist(), profile.weights.tolist(), profile.disliked.tolist()
    ([50, 60], [5.5, -6.0], [60])
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

import numpy as np

POSITIVE_RATING = 3.0


class EventKind(StrEnum):
    """The kinds of feedback event."""

    RATING = "rating"
    CLICK = "click"
    WATCH = "watch"
    DISLIKE = "dislike"


SEEN_KINDS = frozenset({EventKind.RATING, EventKind.WATCH})
FIXED_WEIGHTS: dict[str, float] = {
    EventKind.WATCH: 4.0,
    EventKind.CLICK: 2.0,
    EventKind.DISLIKE: -6.0,
}


def event_weight(kind: str, value: float | None) -> float:
    """The interaction weight of one event (the table of the module docstring)."""
    if kind == EventKind.RATING:
        assert value is not None
        return 1.0 + value if value >= POSITIVE_RATING else -(6.0 - value)
    return FIXED_WEIGHTS[kind]


class UserEvent(NamedTuple):
    """One accepted feedback event, as the engine needs it."""

    event_id: int
    user_id: int
    movie_id: int
    kind: str
    value: float | None


class Profile(NamedTuple):
    """One user's feedback, ready to score: `weights[i]` of movie `movie_ids[i]`, the movies
    rated or watched (`seen`) and disliked, and whether the service created the user."""

    movie_ids: np.ndarray
    weights: np.ndarray
    seen: np.ndarray
    disliked: np.ndarray
    registered: bool = False

    @property
    def has_events(self) -> bool:
        return len(self.movie_ids) > 0

    @property
    def positive(self) -> bool:
        """Whether any movie counts as a preference (then the answer can be personal)."""
        return bool((self.weights > 0).any())

    def merged(self, other: Profile) -> Profile:
        """This profile with `other`'s movies added; where both have a movie, `other` wins."""
        keep = ~np.isin(self.movie_ids, other.movie_ids)
        return Profile(
            np.concatenate([self.movie_ids[keep], other.movie_ids]),
            np.concatenate([self.weights[keep], other.weights]),
            np.union1d(self.seen[~np.isin(self.seen, other.movie_ids)], other.seen),
            np.union1d(self.disliked[~np.isin(self.disliked, other.movie_ids)], other.disliked),
            self.registered or other.registered,
        )


def profile_of(events: Iterable[UserEvent], registered: bool = False) -> Profile:
    """The `Profile` of one user's `events` (any order)."""
    decisive: dict[int, UserEvent] = {}  # movie -> latest rating or dislike
    implicit: dict[int, UserEvent] = {}  # movie -> a watch if any, else a click
    for event in sorted(events):
        if event.kind in (EventKind.RATING, EventKind.DISLIKE):
            decisive[event.movie_id] = event
        elif event.kind == EventKind.WATCH or event.movie_id not in implicit:
            implicit[event.movie_id] = event
    chosen = {**implicit, **decisive}
    picked = [chosen[movie] for movie in sorted(chosen)]
    return Profile(
        np.array([event.movie_id for event in picked], dtype=np.int64),
        np.array([event_weight(event.kind, event.value) for event in picked], dtype=np.float32),
        np.array([event.movie_id for event in picked if event.kind in SEEN_KINDS], dtype=np.int64),
        np.array(
            [event.movie_id for event in picked if event.kind == EventKind.DISLIKE], dtype=np.int64
        ),
        registered,
    )


def inline_profile(movie_ids: list[int], ratings: list[float | None]) -> Profile:
    """The profile of an anonymous session's history: rated movies by their rating, the
    others as watched."""
    events = [
        UserEvent(position, 0, movie, EventKind.RATING if rating else EventKind.WATCH, rating)
        for position, (movie, rating) in enumerate(zip(movie_ids, ratings, strict=True))
    ]
    return profile_of(events)


class UserProfiles:
    """Every user's events and registration, in memory; thread-safe.

    `add`, `erase` and `register` (the API's accept path and the store reader) record the
    change and mark the user's profile stale, under a lock; `get` (the request path) is a
    dictionary read unless the profile is stale, when it rebuilds it first. So an event
    costs its acceptance a dictionary insert, not a rebuild over every event of its user
    (which grew with the user's history), and a profile is rebuilt once per read that
    follows a change."""

    def __init__(self) -> None:
        self._events: dict[int, dict[int, UserEvent]] = {}
        self._erased_up_to: dict[int, int] = {}
        self._registered: set[int] = set()
        self._profiles: dict[int, Profile] = {}
        self._stale: set[int] = set()
        self._lock = threading.Lock()

    def get(self, user_id: int) -> Profile | None:
        """The user's profile; None when the service knows nothing of them."""
        if user_id in self._stale:
            with self._lock:
                if user_id in self._stale:
                    self._rebuild(user_id)
        return self._profiles.get(user_id)

    def add(self, events: Iterable[UserEvent]) -> None:
        """Add events (ones already known, or erased, are ignored)."""
        with self._lock:
            for event in events:
                if event.event_id <= self._erased_up_to.get(event.user_id, 0):
                    continue
                known = self._events.setdefault(event.user_id, {})
                if event.event_id not in known:
                    known[event.event_id] = event
                    self._stale.add(event.user_id)

    def erase(self, user_id: int, up_to_event_id: int) -> None:
        """Forget the user's events up to `up_to_event_id`, including ones still to arrive."""
        with self._lock:
            self._erased_up_to[user_id] = max(up_to_event_id, self._erased_up_to.get(user_id, 0))
            known = self._events.get(user_id, {})
            for event_id in [event_id for event_id in known if event_id <= up_to_event_id]:
                del known[event_id]
            self._stale.add(user_id)

    def register(self, user_ids: Iterable[int]) -> None:
        """Mark users as created through the service."""
        with self._lock:
            new = set(user_ids) - self._registered
            self._registered |= new
            self._stale |= new

    def _rebuild(self, user_id: int) -> None:
        """Replace the user's stale profile (under the lock)."""
        events = self._events.get(user_id, {})
        if events or user_id in self._registered:
            self._profiles[user_id] = profile_of(events.values(), user_id in self._registered)
        else:
            self._profiles.pop(user_id, None)
        self._stale.discard(user_id)
