"""Split strategies: no leakage in time, per-user proportions, seeds, nothing lost."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movierec.config import DataSettings, SplitSettings
from movierec.data.preprocess import preprocess
from movierec.data.split import SplitResult, split_interactions
from tests.synthetic import SyntheticMovieLens


@pytest.fixture(scope="module")
def interactions(synthetic_data: SyntheticMovieLens) -> pd.DataFrame:
    frame, _ = preprocess(synthetic_data.ratings, DataSettings())
    return frame


def _keys(frame: pd.DataFrame) -> list[tuple[int, int]]:
    return sorted(zip(frame["user_id"], frame["movie_id"], strict=True))


def _union(split: SplitResult) -> pd.DataFrame:
    return pd.concat([split.train, split.val, split.test])


def test_global_time_never_leaks_the_future(interactions: pd.DataFrame) -> None:
    split = split_interactions(interactions, SplitSettings(val_fraction=0.15, test_fraction=0.1))

    assert split.val["timestamp"].min() >= split.train["timestamp"].max()
    assert split.test["timestamp"].min() >= split.val["timestamp"].max()
    assert split.test["timestamp"].min() >= split.train["timestamp"].max()
    n = len(interactions)
    assert abs(len(split.test) - 0.1 * n) <= 0.02 * n
    assert abs(len(split.val) - 0.15 * n) <= 0.02 * n
    assert _keys(_union(split)) == _keys(interactions)


def test_global_time_keeps_ties_on_one_side() -> None:
    # 10 rows, timestamps 1,1,1,1,2,2,2,2,2,3: the 10% test cut falls inside no tie,
    # the 10% val cut falls inside the tie at 2, which must move to val whole.
    stamps = [1, 1, 1, 1, 2, 2, 2, 2, 2, 3]
    frame = pd.DataFrame({"user_id": range(10), "movie_id": range(10), "timestamp": stamps})

    split = split_interactions(frame, SplitSettings(val_fraction=0.1, test_fraction=0.1))

    assert split.test["timestamp"].tolist() == [3]
    assert split.val["timestamp"].tolist() == [2] * 5
    assert split.train["timestamp"].tolist() == [1] * 4


def test_leave_last_n_takes_each_users_latest(interactions: pd.DataFrame) -> None:
    split = split_interactions(interactions, SplitSettings(strategy="leave_last_n", last_n=2))

    for user, rows in interactions.groupby("user_id"):
        latest = rows.sort_values("timestamp", kind="stable")["movie_id"].tolist()
        assert sorted(split.test.loc[split.test.user_id == user, "movie_id"]) == sorted(latest[-2:])
        assert sorted(split.val.loc[split.val.user_id == user, "movie_id"]) == sorted(latest[-4:-2])
    assert split.train["user_id"].nunique() == interactions["user_id"].nunique()


def test_leave_last_n_leaves_short_histories_in_train() -> None:
    frame = pd.DataFrame(
        {
            "user_id": [1, 2, 2, 3, 3, 3],
            "movie_id": [1, 1, 2, 1, 2, 3],
            "timestamp": [5, 1, 2, 1, 2, 3],
        }
    )

    split = split_interactions(frame, SplitSettings(strategy="leave_last_n", last_n=1))

    assert split.test[["user_id", "movie_id"]].values.tolist() == [[2, 2], [3, 3]]
    assert split.val[["user_id", "movie_id"]].values.tolist() == [[3, 2]]
    assert sorted(split.train["user_id"]) == [1, 2, 3]


def test_stratified_random_per_user_proportions(interactions: pd.DataFrame) -> None:
    config = SplitSettings(strategy="stratified_random", test_ratio=0.25, val_ratio=0.1, seed=42)

    split = split_interactions(interactions, config)

    counts = interactions.groupby("user_id").size()
    test_counts = split.test.groupby("user_id").size().reindex(counts.index, fill_value=0)
    fit = counts - test_counts
    # Python's round(), as in MS Recommenders' python_stratified_split (75/25).
    assert (fit == counts.map(lambda n: max(1, round(n * 0.75)))).all()
    val_counts = split.val.groupby("user_id").size().reindex(counts.index, fill_value=0)
    assert (val_counts == fit.map(lambda n: min(round(n * 0.1), n - 1))).all()
    assert set(split.train["user_id"]) == set(counts.index)
    assert _keys(_union(split)) == _keys(interactions)


def test_stratified_random_is_reproducible_by_seed(interactions: pd.DataFrame) -> None:
    config = SplitSettings(strategy="stratified_random", seed=42)

    first = split_interactions(interactions, config)
    again = split_interactions(interactions, config)
    other = split_interactions(interactions, config.model_copy(update={"seed": 7}))

    pd.testing.assert_frame_equal(first.test, again.test)
    assert _keys(first.test) != _keys(other.test)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(1, 6), st.integers(1, 30), st.integers(0, 20)),
        min_size=1,
        max_size=60,
        unique_by=lambda row: (row[0], row[1]),
    ),
    strategy=st.sampled_from(["global_time", "leave_last_n", "stratified_random"]),
)
def test_every_strategy_partitions_the_rows(
    rows: list[tuple[int, int, int]], strategy: str
) -> None:
    frame = pd.DataFrame(rows, columns=["user_id", "movie_id", "timestamp"])

    split = split_interactions(frame, SplitSettings(strategy=strategy))  # type: ignore[arg-type]

    assert _keys(_union(split)) == _keys(frame)
    if strategy != "global_time":  # per-user strategies keep every user in train
        assert set(split.train["user_id"]) == set(frame["user_id"])
        return
    parts = [p["timestamp"] for p in (split.train, split.val, split.test) if len(p)]
    for earlier, later in itertools.pairwise(parts):
        assert later.min() >= earlier.max()


@pytest.mark.parametrize("strategy", ["global_time", "leave_last_n", "stratified_random"])
def test_rows_kept_in_train_are_never_held_out(interactions: pd.DataFrame, strategy: str) -> None:
    # The newest tenth stands for merged feedback: global_time would hold all of it out.
    config = SplitSettings(strategy=strategy)  # type: ignore[arg-type]
    newest = interactions["timestamp"].to_numpy() >= interactions["timestamp"].quantile(0.9)

    split = split_interactions(interactions, config, keep_in_train=newest)

    fed = set(_keys(interactions[newest]))
    assert fed <= set(_keys(split.train))
    assert not fed & set(_keys(split.val)) and not fed & set(_keys(split.test))
    alone = split_interactions(interactions[~newest], config)
    assert _keys(split.val) == _keys(alone.val) and _keys(split.test) == _keys(alone.test)
    assert _keys(_union(split)) == _keys(interactions)
