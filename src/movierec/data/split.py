"""Train / validation / test splits of the interactions (config `data.split.strategy`).

- `global_time`: two timestamp cut-offs; the latest `test_fraction` of interactions is test,
  the `val_fraction` before it is validation. Interactions tied with a cut-off all go to the
  later part, so every val timestamp >= every train timestamp and every test timestamp >=
  every val timestamp: nothing from the future leaks into training. Users first seen after
  a cut-off are cold and evaluated on the fallback.
- `leave_last_n`: per user, the last `last_n` interactions are test and the `last_n` before
  them validation (ties in time keep the input order). A user needs more than `2 * last_n`
  interactions for both parts and more than `last_n` for a test part; everyone keeps at
  least one training interaction.
- `stratified_random`: per user, a seeded random `test_ratio` share is test (rounded as
  MS Recommenders' `python_stratified_split` does, which gives its 75/25 ml-100k protocol),
  then `val_ratio` of the rest is validation; every user keeps at least one training row.

All three work on whole columns (one sort, then run positions), never per user in Python.
Rows marked `keep_in_train` (retraining's merged feedback) are never held out: they join the
train part, and only the other rows are split as configured. Feedback is the newest data, so
under `global_time` it would otherwise all land in test and the exported model (fitted on
train + val) would never learn it; the held-out parts stay comparable with earlier runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec.config import SplitSettings


@dataclass(frozen=True)
class SplitResult:
    """The three parts; each keeps the columns of the input frame."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame

    def summary(self) -> dict[str, dict[str, int]]:
        """Rows, users and items per part; for val and test also the users a model can be
        evaluated on (>= 1 training interaction) and the cold users and items (none)."""
        train_users = self.train["user_id"].unique()
        train_items = self.train["movie_id"].unique()
        report = {"train": _counts(self.train)}
        for name, part in (("val", self.val), ("test", self.test)):
            warm = pd.Series(part["user_id"].unique()).isin(train_users).to_numpy()
            known = pd.Series(part["movie_id"].unique()).isin(train_items).to_numpy()
            report[name] = {
                **_counts(part),
                "evaluable_users": int(warm.sum()),
                "cold_users": int((~warm).sum()),
                "cold_items": int((~known).sum()),
            }
        return report


def _counts(part: pd.DataFrame) -> dict[str, int]:
    return {
        "rows": len(part),
        "users": int(part["user_id"].nunique()),
        "items": int(part["movie_id"].nunique()),
    }


def _parts(frame: pd.DataFrame, val: np.ndarray, test: np.ndarray) -> SplitResult:
    train = ~(val | test)
    return SplitResult(
        train=frame[train].reset_index(drop=True),
        val=frame[val].reset_index(drop=True),
        test=frame[test].reset_index(drop=True),
    )


def user_time_order(user: np.ndarray, timestamp: np.ndarray) -> np.ndarray:
    """Stable order by user id, then timestamp; ties keep their input order.

    Both keys are packed into one int64 when they fit (always for MovieLens), because one
    argsort is several times faster than `np.lexsort` on tens of millions of rows.
    """
    if len(user) == 0:
        return np.zeros(0, dtype=np.int64)
    offset = timestamp.astype(np.int64) - int(timestamp.min())
    span = int(offset.max()) + 1
    low = int(user.min())
    if (int(user.max()) - low + 1) * span < 2**62:  # the ids themselves, as sorted codes
        codes = user.astype(np.int64) - low
    else:
        factorized, uniques = pd.factorize(user, sort=True)
        if len(uniques) * span >= 2**62:
            return np.lexsort((timestamp, user))
        codes = factorized.astype(np.int64)
    order: np.ndarray = np.argsort(codes * span + offset, kind="stable")
    return order


def _runs(sorted_user: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows grouped by user: each row's position within its user, and its user's count."""
    n = len(sorted_user)
    starts_run = np.ones(n, dtype=bool)
    np.not_equal(sorted_user[1:], sorted_user[:-1], out=starts_run[1:])
    starts = np.flatnonzero(starts_run)
    run = np.cumsum(starts_run) - 1
    sizes = np.diff(np.append(starts, n))
    return np.arange(n) - starts[run], sizes[run]


def _global_time(interactions: pd.DataFrame, settings: SplitSettings) -> SplitResult:
    stamps = interactions["timestamp"].to_numpy()
    n = len(stamps)
    if n == 0:
        empty = np.zeros(0, dtype=bool)
        return _parts(interactions, empty, empty)
    first_test = max(n - max(1, round(n * settings.test_fraction)), 0)
    first_val = max(first_test - max(1, round(n * settings.val_fraction)), 0)
    cuts = np.partition(stamps, [first_val, first_test])
    test = stamps >= cuts[first_test]
    val = (stamps >= cuts[first_val]) & ~test
    return _parts(interactions, val, test)


def _leave_last_n(interactions: pd.DataFrame, settings: SplitSettings) -> SplitResult:
    user = interactions["user_id"].to_numpy()
    order = user_time_order(user, interactions["timestamp"].to_numpy())
    position, count = _runs(user[order])
    from_end = count - 1 - position
    n = settings.last_n
    test = (from_end < n) & (count > n)
    val = (from_end >= n) & (from_end < 2 * n) & (count > 2 * n)
    return _parts(interactions.iloc[order], val, test)


def _stratified_random(interactions: pd.DataFrame, settings: SplitSettings) -> SplitResult:
    user = interactions["user_id"].to_numpy()
    # Sort by user, then by a seeded random 32-bit key: a random order within each user.
    codes = pd.factorize(user, sort=True)[0].astype(np.int64)
    noise = np.random.default_rng(settings.seed).integers(0, 2**32, len(user), dtype=np.int64)
    order = np.argsort((codes << 32) | noise)
    position, count = _runs(user[order])
    # np.round halves to even, as Python's round() in python_stratified_split does.
    n_fit = np.maximum(1, np.round(count * (1.0 - settings.test_ratio)).astype(np.int64))
    n_val = np.minimum(np.round(n_fit * settings.val_ratio).astype(np.int64), n_fit - 1)
    test = position >= n_fit
    val = (position >= n_fit - n_val) & ~test
    return _parts(interactions.iloc[order], val, test)


def split_interactions(
    interactions: pd.DataFrame, settings: SplitSettings, keep_in_train: np.ndarray | None = None
) -> SplitResult:
    """Split `interactions` (user_id, movie_id, timestamp, ...) by `settings.strategy`; rows
    where the boolean mask `keep_in_train` is true go to train and are not split."""
    strategies = {
        "global_time": _global_time,
        "leave_last_n": _leave_last_n,
        "stratified_random": _stratified_random,
    }
    split = strategies[settings.strategy]
    if keep_in_train is None or not keep_in_train.any():
        return split(interactions, settings)
    held = split(interactions[~keep_in_train], settings)
    train = pd.concat([held.train, interactions[keep_in_train]], ignore_index=True)
    return SplitResult(train=train, val=held.val, test=held.test)
