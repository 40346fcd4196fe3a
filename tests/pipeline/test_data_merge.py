"""The feedback merge on hand-made events: latest wins, idempotence, watermark, new ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert

from movierec.config import DataSettings
from movierec.data.mappings import IdMapping
from movierec.data.preprocess import preprocess
from movierec.pipeline.data_merge import (
    STATE_FILE,
    WATERMARK_FILE,
    FeedbackStore,
    MergeError,
    apply_feedback,
    count_new_events,
    feedback_ratings,
    merge_events,
    run_merge,
)
from movierec.store.database import create_engine
from movierec.store.feedback import erase_user_events
from movierec.store.schema import upgrade
from movierec.store.tables import feedback_events
from tests.pipeline.feedback_table import write_events

WEIGHTS = {"click": 3.0, "watch": 4.0}
DATASET = pd.DataFrame(
    {
        "user_id": [1, 1, 2, 2],
        "movie_id": [10, 11, 10, 12],
        "rating": [4.0, 2.0, 5.0, 3.0],
        "timestamp": [100, 100, 100, 100],
    }
)


def merged_rows(store: Path, directory: Path) -> list[tuple[int, int, str]]:
    run_merge(store, directory)
    state = FeedbackStore(directory).state()
    return sorted(zip(state["user_id"], state["movie_id"], state["event"], strict=True))


def test_latest_event_per_pair_wins_and_ties_go_to_the_later_event(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    write_events(
        store,
        [
            (1, 10, "click", None, 2000.0),
            (1, 10, "rating", 2.5, 1000.0),  # older, although written later
            (2, 10, "rating", 1.0, 3000.0),
            (2, 10, "watch", None, 3000.0),  # same time, larger id: wins
        ],
    )
    assert merged_rows(store, tmp_path / "fb") == [(1, 10, "click"), (2, 10, "watch")]


def test_a_second_run_without_new_events_changes_nothing(tmp_path: Path) -> None:
    store, directory = tmp_path / "store.db", tmp_path / "fb"
    write_events(store, [(1, 10, "rating", 4.5, 1000.0), (3, 12, "click", None, 1001.0)])
    first = run_merge(store, directory)
    files = {name: (directory / name).read_bytes() for name in (STATE_FILE, WATERMARK_FILE)}
    second = run_merge(store, directory)
    assert (first.new_events, second.new_events) == (2, 0)
    assert second.pairs == first.pairs == 2
    assert {name: (directory / name).read_bytes() for name in files} == files


def test_merging_the_same_events_again_gives_the_same_state(tmp_path: Path) -> None:
    store, directory = tmp_path / "store.db", tmp_path / "fb"
    write_events(store, [(1, 10, "rating", 4.5, 1000.0), (1, 10, "dislike", None, 1002.0)])
    run_merge(store, directory)
    state = FeedbackStore(directory).state()
    pd.testing.assert_frame_equal(merge_events(state, state), state)


def test_the_watermark_reads_only_newer_events(tmp_path: Path) -> None:
    store, directory = tmp_path / "store.db", tmp_path / "fb"
    write_events(store, [(1, 10, "rating", 4.5, 1000.0), (1, 11, "click", None, 1001.0)])
    assert run_merge(store, directory).watermark == 2
    write_events(store, [(1, 10, "dislike", None, 1005.0), (4, 13, "watch", None, 1006.0)])
    assert count_new_events(store, directory) == 2
    report = run_merge(store, directory)
    assert (report.new_events, report.watermark, report.pairs, report.dislikes) == (2, 4, 3, 1)
    assert FeedbackStore(directory).watermark() == 4
    assert merged_rows(store, directory) == [(1, 10, "dislike"), (1, 11, "click"), (4, 13, "watch")]


def test_no_store_or_no_table_means_no_events(tmp_path: Path) -> None:
    assert run_merge(tmp_path / "missing.db", tmp_path / "fb").new_events == 0
    assert not (tmp_path / "missing.db").exists()
    empty = tmp_path / "empty.db"
    pd.DataFrame({"x": [1]}).to_sql("other", f"sqlite:///{empty}")
    assert run_merge(empty, tmp_path / "fb").new_events == 0


def feedback(*events: tuple[int, int, str, float | None, float]) -> pd.DataFrame:
    state = pd.DataFrame(
        events, columns=["user_id", "movie_id", "event", "value", "created_at"]
    ).assign(event_id=np.arange(1, len(events) + 1))
    return feedback_ratings(
        merge_events(FeedbackStore(Path("/nonexistent")).state(), state), WEIGHTS
    )


def test_apply_maps_events_removes_dislikes_and_leaves_other_pairs_alone() -> None:
    rows = feedback(
        (1, 10, "dislike", None, 500.0),  # removes the dataset's rating of 4
        (1, 11, "click", None, 500.0),  # replaces 2.0 with the click's rating
        (2, 13, "watch", None, 500.0),  # a new pair
        (2, 12, "rating", 1.5, 50.0),  # older than the dataset's rating: the dataset wins
    )
    merged = apply_feedback(DATASET, rows)
    got = {(u, m): r for u, m, r in merged[["user_id", "movie_id", "rating"]].itertuples(False)}
    assert got == {(1, 11): 3.0, (2, 10): 5.0, (2, 12): 3.0, (2, 13): 4.0}
    assert apply_feedback(DATASET, rows.iloc[:0]).equals(DATASET)


def test_new_users_and_movies_get_ids_after_preprocessing() -> None:
    new_user, new_movie = 1_000_001, 99
    rows = feedback(
        (new_user, 10, "rating", 5.0, 500.0), (new_user, new_movie, "click", None, 501.0)
    )
    interactions, _ = preprocess(
        apply_feedback(DATASET, rows), DataSettings(min_user_interactions=1)
    )
    users = IdMapping.from_ids(interactions["user_id"].to_numpy())
    items = IdMapping.from_ids(interactions["movie_id"].to_numpy())
    assert users.to_index(np.array([new_user]))[0] >= 0
    assert items.to_index(np.array([new_movie]))[0] >= 0


def test_unknown_event_kind_and_unmapped_event_are_refused() -> None:
    with pytest.raises(MergeError, match="unknown feedback event kinds \\['share'\\]"):
        feedback((1, 10, "share", None, 1.0))
    state = merge_events(
        FeedbackStore(Path("/nonexistent")).state(),
        pd.DataFrame(
            {
                "event_id": [1],
                "user_id": [1],
                "movie_id": [1],
                "event": ["watch"],
                "value": [None],
                "created_at": [1.0],
            }
        ),
    )
    with pytest.raises(MergeError, match=r"set retrain\.event_ratings"):
        feedback_ratings(state, {"click": 3.0})


def test_erased_events_leave_the_merged_feedback(tmp_path: Path) -> None:
    store, directory = tmp_path / "store.db", tmp_path / "fb"
    write_events(store, [(7, 10, "rating", 4.5, 1000.0), (8, 11, "click", None, 1001.0)])
    run_merge(store, directory)
    engine = create_engine(store)
    erase_user_events(engine, user_id=7, up_to_event_id=1)
    engine.dispose()
    assert run_merge(store, directory).pairs == 1
    assert merged_rows(store, directory) == [(8, 11, "click")]


def test_an_event_committed_after_a_later_one_was_merged_is_still_merged(tmp_path: Path) -> None:
    # Two API processes: the one that minted id 5 commits it after id 9 was merged.
    store, directory = tmp_path / "store.db", tmp_path / "fb"
    upgrade(store)
    engine = create_engine(store)
    row = {"user_id": 1, "movie_id": 10, "event": "click", "request_known": False}
    with engine.begin() as conn:
        conn.execute(insert(feedback_events), [{**row, "event_id": 9, "created_at": 2.0}])
    assert run_merge(store, directory).watermark == 9
    with engine.begin() as conn:
        conn.execute(
            insert(feedback_events),
            [{**row, "movie_id": 11, "event_id": 5, "created_at": 1.0}],
        )
    engine.dispose()
    assert merged_rows(store, directory) == [(1, 10, "click"), (1, 11, "click")]
