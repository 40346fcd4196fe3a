"""Feedback events merged into the interactions, incrementally and idempotently.

`run_merge` reads the `feedback_events` rows (the store's table, written by `POST /feedback`)
newer than the watermark, folds them into the merged feedback kept in
`retrain.feedback_dir/feedback.parquet` (latest event per (user, movie) wins; ties by event
id) and moves the watermark (`watermark.json`, the last merged event id) only after the
file is in place. A second run without new events changes nothing; re-reading an event
already merged gives the same state, so a crash between the two writes costs nothing, and
each run re-reads `LOOKBACK_S` before the watermark for events committed late. Events a
user erased (`feedback_erasures`) leave the state too.

`apply_feedback` turns that state into rows of the canonical frame (`user_id, movie_id,
rating, timestamp`) over the dataset's ratings, for preprocessing:

- `rating` events keep their value (0.5..5);
- `click` and `watch` become the rating configured in `retrain.event_ratings`, which
  preprocessing turns into a confidence weight like any rating;
- `dislike` removes the pair: the models learn from implicit confidence, where a negative
  weight has no meaning, so a disliked movie is simply no longer an interaction (and is not
  recommended as "seen" either).

Users and movies that are new since the last training (ids the service created above the
dataset's range, or movies without ratings yet) get rows and columns because the mappings
are built from the merged interactions; `MergeReport` counts them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy
from sqlalchemy.exc import SQLAlchemyError

from movierec.store.database import Database, create_engine, sqlite_file, unreachable
from movierec.store.feedback import COUNTER_BITS, SOURCE_BITS
from movierec.store.tables import feedback_erasures, feedback_events

STATE_FILE = "feedback.parquet"
WATERMARK_FILE = "watermark.json"
EVENT_KINDS = ("rating", "click", "watch", "dislike")
STATE_COLUMNS = ["event_id", "user_id", "movie_id", "event", "value", "created_at"]
STATE_DTYPES = {
    "event_id": "int64",
    "user_id": "int64",
    "movie_id": "int64",
    "event": "str",
    "value": "float64",
    "created_at": "float64",
}
RATING_COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]
# Each merge re-reads the events minted this long before the watermark: an API process
# commits its events in batches, so one minted earlier can be committed after the last read.
LOOKBACK_S = 60.0


class MergeError(RuntimeError):
    """The feedback cannot be merged; the message names the store or file and what to do."""


@dataclass
class MergeReport:
    """What one merge did: events read, pairs held, and the watermark after it."""

    new_events: int = 0
    pairs: int = 0
    dislikes: int = 0
    watermark: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _empty_state() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in STATE_DTYPES.items()})


def merge_events(state: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Fold `events` into `state`: one row per (user, movie), the latest event's.

    Latest means the largest `created_at`, then the largest `event_id`; an event already in
    `state` (same id) counts once, so merging the same events again changes nothing.

    >>> ev = pd.DataFrame({"event_id": [1, 2], "user_id": [7, 7], "movie_id": [3, 3],
    ...     "event": ["rating", "click"], "value": [4.0, None], "created_at": [10.0, 20.0]})
    >>> merge_events(_empty_state(), ev)[["event", "event_id"]].values.tolist()
    [['click', 2]]
    """
    unknown = sorted(set(events["event"]) - set(EVENT_KINDS))
    if unknown:
        raise MergeError(f"unknown feedback event kinds {unknown}: expected {list(EVENT_KINDS)}")
    parts = [frame for frame in (state, events[STATE_COLUMNS]) if len(frame)]
    if not parts:
        return _empty_state()
    combined = pd.concat(parts, ignore_index=True).astype(STATE_DTYPES)
    combined = combined.drop_duplicates("event_id", keep="first")
    combined = combined.sort_values(["created_at", "event_id"], kind="stable")
    latest = combined.drop_duplicates(["user_id", "movie_id"], keep="last")
    return latest.sort_values(["user_id", "movie_id"]).reset_index(drop=True)


def feedback_ratings(state: pd.DataFrame, event_ratings: dict[str, float]) -> pd.DataFrame:
    """The merged feedback as canonical rows; a dislike's rating is NaN (a removal)."""
    event = state["event"].to_numpy()
    implicit = pd.Series(event).map(event_ratings).to_numpy(dtype=np.float64)
    rating = np.where(event == "rating", state["value"].to_numpy(dtype=np.float64), implicit)
    rating = np.where(event == "dislike", np.nan, rating)
    missing = sorted(set(event[np.isnan(rating) & (event != "dislike")]))
    if missing:
        raise MergeError(
            f"feedback events {missing} have no rating: set retrain.event_ratings for them "
            "(rating events need a value)"
        )
    return pd.DataFrame(
        {
            "user_id": state["user_id"].to_numpy(np.int64),
            "movie_id": state["movie_id"].to_numpy(np.int64),
            "rating": rating,
            "timestamp": np.floor(state["created_at"].to_numpy()).astype(np.int64),
        }
    )


def apply_feedback(ratings: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """`ratings` with the feedback rows of `feedback_ratings` applied to the pairs they touch:
    the latest of a pair's rows wins, and a pair whose latest row is a dislike is removed.

    Pairs no feedback touched are left exactly as they were (preprocessing deduplicates them).
    """
    if feedback.empty:
        return ratings[RATING_COLUMNS]
    pair = pd.MultiIndex.from_frame(ratings[["user_id", "movie_id"]])
    touched = pair.isin(pd.MultiIndex.from_frame(feedback[["user_id", "movie_id"]]))
    contested = pd.concat([ratings[touched][RATING_COLUMNS], feedback], ignore_index=True)
    contested = contested.sort_values("timestamp", kind="stable")
    winners = contested.drop_duplicates(["user_id", "movie_id"], keep="last")
    kept = winners[winners["rating"].notna()]
    merged = pd.concat([ratings[~touched][RATING_COLUMNS], kept], ignore_index=True)
    return merged.astype({"user_id": "int64", "movie_id": "int64", "timestamp": "int64"})


class FeedbackStore:
    """The merged feedback and its watermark in one folder (`retrain.feedback_dir`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def watermark(self) -> int:
        """The id of the last merged event (0 before the first merge)."""
        path = self.directory / WATERMARK_FILE
        if not path.is_file():
            return 0
        try:
            return int(json.loads(path.read_text())["last_event_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MergeError(
                f"{path} is unreadable ({exc}): delete it and {STATE_FILE} to merge every "
                "event again"
            ) from exc

    def state(self) -> pd.DataFrame:
        """The merged feedback, one row per (user, movie); empty before the first merge."""
        path = self.directory / STATE_FILE
        if not path.is_file():
            return _empty_state()
        try:
            return pd.read_parquet(path).astype(STATE_DTYPES)[STATE_COLUMNS]
        except (OSError, ValueError, KeyError) as exc:
            raise MergeError(
                f"{path} is unreadable ({exc}): delete it and {WATERMARK_FILE} to merge every "
                "event again"
            ) from exc

    def save(self, state: pd.DataFrame, watermark: int) -> None:
        """Write the state, then the watermark, each through a temp file and a rename."""
        self.directory.mkdir(parents=True, exist_ok=True)
        staged = self.directory / f".{STATE_FILE}.tmp"
        state.to_parquet(staged, index=False)
        staged.replace(self.directory / STATE_FILE)
        mark = {"last_event_id": watermark, "merged_at": time.time()}
        staged = self.directory / f".{WATERMARK_FILE}.tmp"
        staged.write_text(json.dumps(mark) + "\n")
        staged.replace(self.directory / WATERMARK_FILE)


def _window_start(watermark: int) -> int:
    """The first event id to read: LOOKBACK_S before the watermark's, since an event minted
    then may have been committed after the last merge read (each API process batches)."""
    return max(0, watermark - (int(LOOKBACK_S * 1000) << (SOURCE_BITS + COUNTER_BITS)))


def read_events(database: Database, after: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feedback events with an id above `after` (in id order) and every erasure (user_id,
    up_to_event_id); none when the store or its tables do not exist yet."""
    erasure_columns = ["user_id", "up_to_event_id"]
    nothing = _empty_state(), pd.DataFrame(columns=erasure_columns, dtype="int64")
    path = sqlite_file(database)
    if path is not None and not path.is_file():
        return nothing
    engine = create_engine(database, read_only=True)
    try:
        if not sqlalchemy.inspect(engine).has_table(feedback_events.name):
            return nothing
        query = (
            sqlalchemy.select(*(feedback_events.c[name] for name in STATE_COLUMNS))
            .where(feedback_events.c.event_id > after)
            .order_by(feedback_events.c.event_id)
        )
        erasures = sqlalchemy.select(*(feedback_erasures.c[name] for name in erasure_columns))
        with engine.connect() as conn:
            rows = conn.execute(query).all()
            erased = conn.execute(erasures).all()
    except SQLAlchemyError as exc:
        raise MergeError(unreachable(engine, exc)) from exc
    finally:
        engine.dispose()
    events = pd.DataFrame(rows, columns=STATE_COLUMNS).astype(STATE_DTYPES)
    return events, pd.DataFrame(erased, columns=erasure_columns, dtype="int64")


def forget_erased(state: pd.DataFrame, erasures: pd.DataFrame) -> pd.DataFrame:
    """`state` without the events users erased (`DELETE /users/{id}/feedback`)."""
    if erasures.empty or state.empty:
        return state
    up_to = erasures.groupby("user_id")["up_to_event_id"].max()
    limit = state["user_id"].map(up_to).fillna(-1).to_numpy()
    return state[state["event_id"].to_numpy() > limit].reset_index(drop=True)


def count_new_events(database: Database, directory: Path) -> int:
    """How many events arrived after the last merged one (the retrainer's trigger)."""
    return len(read_events(database, FeedbackStore(directory).watermark())[0])


def run_merge(database: Database, directory: Path) -> MergeReport:
    """Merge the events of `database` newer than the watermark into `directory`'s state
    (re-reading LOOKBACK_S before it, which changes nothing for events merged already) and
    forget the erased ones."""
    store = FeedbackStore(directory)
    watermark = store.watermark()
    events, erasures = read_events(database, _window_start(watermark))
    new_events = int((events["event_id"] > watermark).sum())
    before = store.state()
    state = forget_erased(merge_events(before, events), erasures)
    if len(events):
        watermark = max(watermark, int(events["event_id"].max()))
    if new_events or not state.equals(before):
        store.save(state, watermark)
    return MergeReport(
        new_events=new_events,
        pairs=len(state),
        dislikes=int((state["event"] == "dislike").sum()),
        watermark=watermark,
    )
