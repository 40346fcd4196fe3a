"""Clean the ratings, turn them into weighted implicit interactions, split and write them.

`run_preprocess(settings)` is the `movierec process` stage. It writes to `processed_dir`:

| file                         | content                                                    |
|------------------------------|------------------------------------------------------------|
| interactions.parquet         | user_id, movie_id, rating, timestamp, confidence           |
| train, val, test .parquet    | the split of interactions.parquet (same columns)           |
| items.parquet                | movie_id, title, year, genres (list), url; interacted movies |
| user_mapping.json            | {"<user_id>": row} over the interactions, ids ascending    |
| item_mapping.json            | {"<movie_id>": column} over the interactions, ids ascending |
| report.json                  | `PreprocessReport`: every count, per split part            |

The Parquet files' column types are `movierec.data.parquet.INTERACTIONS` and `ITEMS`.

Every rating stays an interaction (no threshold): the evaluation protocol treats each rated
movie as relevant. The whole folder is staged and swapped in atomically.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress

from movierec.config import DataSettings
from movierec.data import DataError, replace_directory, staging_path
from movierec.data.download import download_dataset
from movierec.data.loaders import ITEM_COLUMNS, RATING_COLUMNS, load_dataset
from movierec.data.mappings import IdMapping, countable, distinct_ids
from movierec.data.parquet import (
    INTERACTIONS,
    ITEMS,
    ParquetFileError,
    read_frame,
    read_items,
    write_frame,
)
from movierec.data.split import split_interactions, user_time_order

PART_FILES = {
    "interactions": "interactions.parquet",
    "train": "train.parquet",
    "val": "val.parquet",
    "test": "test.parquet",
}
ITEMS_FILE = "items.parquet"
USER_MAPPING_FILE = "user_mapping.json"
ITEM_MAPPING_FILE = "item_mapping.json"
REPORT_FILE = "report.json"


class ProcessedDataError(DataError):
    """The processed data is missing or unreadable."""


@dataclass
class PreprocessReport:
    """What preprocessing did, count by count (written as report.json).

    raw_rows: valid rating rows read; malformed_rows were skipped on top of them.
    exact_duplicates: repeated identical rows; duplicate_pairs: older ratings of a
    (user, movie) pair rated again; filtered_rows: removed by the min-interaction filters
    over `filter_rounds` rounds. splits: per part rows/users/items, and for val and test
    evaluable_users (>= 1 train interaction), cold_users and cold_items. kept_in_train:
    interactions of the pairs never held out (retraining's merged feedback).
    """

    dataset: str = ""
    raw_rows: int = 0
    malformed_rows: int = 0
    exact_duplicates: int = 0
    duplicate_pairs: int = 0
    filtered_rows: int = 0
    filter_rounds: int = 0
    rows: int = 0
    users: int = 0
    items: int = 0
    items_without_metadata: int = 0
    confidence: str = ""
    split_strategy: str = ""
    kept_in_train: int = 0
    splits: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProcessedData:
    """The outputs of `run_preprocess`, read back; items.genres are lists of names."""

    interactions: pd.DataFrame
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    items: pd.DataFrame
    report: dict[str, Any]


def confidence_weights(rating: np.ndarray, kind: str, alpha: float) -> np.ndarray:
    """Implicit confidence from explicit ratings: linear 1 + a*r, log 1 + a*log1p(r), binary 1."""
    if kind == "linear":
        weights: np.ndarray = 1.0 + alpha * rating
    elif kind == "log":
        weights = 1.0 + alpha * np.log1p(rating)
    elif kind == "binary":
        weights = np.ones_like(rating, dtype=np.float64)
    else:
        raise DataError(f"unknown confidence {kind!r}: use linear, log or binary")
    return weights


def _small_codes(ids: np.ndarray) -> np.ndarray:
    """Non-negative int64 codes of `ids` with a small maximum, for packing and bincount: the
    ids themselves when they already are (MovieLens ids), else their factorized codes."""
    if countable(ids):
        return ids.astype(np.int64, copy=False)
    return pd.factorize(ids)[0].astype(np.int64)


def _superseded_rows(
    frame: pd.DataFrame, user_code: np.ndarray, movie_code: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of exact duplicate rows, and of older ratings of a (user, movie) pair.

    Only rows whose pair occurs more than once (found by one stable sort of a packed int64
    key, fast on ratings files already grouped by user) get the costlier checks.
    """
    pair = user_code * (int(movie_code.max(initial=0)) + 1) + movie_code
    order = np.argsort(pair, kind="stable")
    same = pair[order[1:]] == pair[order[:-1]]
    in_run = np.zeros(len(pair), dtype=bool)
    in_run[1:] = same
    in_run[:-1] |= same
    repeated = np.sort(order[in_run])
    candidates = frame.iloc[repeated]
    exact = candidates.duplicated().to_numpy()
    survivors = repeated[~exact]
    by_time = survivors[np.argsort(frame["timestamp"].to_numpy()[survivors], kind="stable")]
    older = frame.iloc[by_time].duplicated(["user_id", "movie_id"], keep="last").to_numpy()
    return repeated[exact], by_time[older]


def _min_interaction_filter(
    user_code: np.ndarray, movie_code: np.ndarray, min_user: int, min_item: int
) -> tuple[np.ndarray, int]:
    """Positions kept once users and items below their minimum are dropped until both bounds
    hold at once (k-core style), and the number of rounds that removed something."""
    kept = np.arange(len(user_code))
    rounds = 0
    while len(kept):
        users, movies = user_code[kept], movie_code[kept]
        enough = (np.bincount(users)[users] >= min_user) & (np.bincount(movies)[movies] >= min_item)
        if enough.all():
            break
        kept = kept[enough]
        rounds += 1
    return kept, rounds


def preprocess(
    ratings: pd.DataFrame, settings: DataSettings
) -> tuple[pd.DataFrame, PreprocessReport]:
    """Deduplicate, filter and weight `ratings`; return interactions (with `confidence`).

    Exact duplicate rows are dropped; of a (user, movie) pair rated more than once only the
    latest rating is kept (at equal timestamps, the later row). Then users with fewer than
    `min_user_interactions` and movies with fewer than `min_item_interactions` are removed,
    repeatedly, until both bounds hold. The result is sorted by user, then timestamp. Every
    step works on row positions; the frame is copied once, at the end.
    """
    report = PreprocessReport(raw_rows=len(ratings), confidence=settings.confidence)
    frame = ratings[RATING_COLUMNS].reset_index(drop=True)
    user, stamp = frame["user_id"].to_numpy(), frame["timestamp"].to_numpy()
    user_code = _small_codes(user)
    movie_code = _small_codes(frame["movie_id"].to_numpy())
    exact, older = _superseded_rows(frame, user_code, movie_code)
    report.exact_duplicates, report.duplicate_pairs = len(exact), len(older)
    unique = np.ones(len(frame), dtype=bool)
    unique[exact] = False
    unique[older] = False
    rows = np.flatnonzero(unique)
    kept, report.filter_rounds = _min_interaction_filter(
        user_code[rows],
        movie_code[rows],
        settings.min_user_interactions,
        settings.min_item_interactions,
    )
    report.filtered_rows = len(rows) - len(kept)
    rows = rows[kept]
    rows = rows[user_time_order(user[rows], stamp[rows])]
    frame = frame.take(rows).reset_index(drop=True)
    interactions = frame.assign(
        confidence=confidence_weights(
            frame["rating"].to_numpy(dtype=np.float64),
            settings.confidence,
            settings.confidence_alpha,
        )
    )
    report.rows = len(interactions)
    report.users = len(distinct_ids(interactions["user_id"].to_numpy()))
    report.items = len(distinct_ids(interactions["movie_id"].to_numpy()))
    return interactions, report


def _catalogue(items: pd.DataFrame, movie_ids: np.ndarray) -> tuple[pd.DataFrame, int]:
    """Items of `movie_ids` in ascending id order; movies without metadata get a stub row."""
    known = items[items["movie_id"].isin(movie_ids)]
    missing = np.setdiff1d(movie_ids, known["movie_id"].to_numpy())
    stubs = pd.DataFrame(
        {
            "movie_id": missing.astype(np.int64),
            "title": [f"Movie {m}" for m in missing],
            "year": pd.array([pd.NA] * len(missing), dtype="Int64"),
            "genres": [[] for _ in missing],
            "url": pd.Series(pd.NA, index=range(len(missing)), dtype="str"),
        }
    )
    parts = [known, stubs] if len(stubs) else [known]
    catalogue = pd.concat(parts, ignore_index=True).sort_values("movie_id")
    return catalogue.reset_index(drop=True)[ITEM_COLUMNS], len(missing)


def run_preprocess(
    settings: DataSettings,
    dataset_dir: Path | None = None,
    amend: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    keep_in_train: pd.DataFrame | None = None,
) -> PreprocessReport:
    """Load, preprocess, split and write `processed_dir` atomically.

    `dataset_dir` is the extracted dataset (as the download stage returns it); without it the
    dataset is downloaded first if it is not already in place and verified. `amend` changes
    the raw ratings before anything else (retraining merges the feedback events with it);
    the (user_id, movie_id) pairs of `keep_in_train` always go to the train part
    (`split_interactions`).
    """
    console = Console(stderr=True, soft_wrap=True)
    if dataset_dir is None:
        dataset_dir = download_dataset(settings, quiet_if_present=True)
    with Progress(console=console) as progress:
        task = progress.add_task(f"process {settings.dataset}", total=5)
        raw = load_dataset(settings.dataset, dataset_dir)
        progress.advance(task)
        ratings = amend(raw.ratings) if amend is not None else raw.ratings
        interactions, report = preprocess(ratings, settings)
        report.dataset = settings.dataset
        report.malformed_rows = raw.malformed_rows
        if interactions.empty:
            raise DataError(
                f"no interaction of {settings.dataset} survives the filters "
                f"min_user_interactions={settings.min_user_interactions} and "
                f"min_item_interactions={settings.min_item_interactions}; lower them in "
                "configs/data.yaml"
            )
        progress.advance(task)
        kept = None
        if keep_in_train is not None and len(keep_in_train):
            pairs = pd.MultiIndex.from_frame(interactions[["user_id", "movie_id"]])
            kept = pairs.isin(pd.MultiIndex.from_frame(keep_in_train[["user_id", "movie_id"]]))
            report.kept_in_train = int(kept.sum())
        split = split_interactions(interactions, settings.split, kept)
        report.split_strategy = settings.split.strategy
        report.splits = split.summary()
        progress.advance(task)
        items, report.items_without_metadata = _catalogue(
            raw.items, interactions["movie_id"].unique()
        )
        progress.advance(task)
        target = settings.processed_dir
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_path(target)
        staging.mkdir()
        try:
            parts = {"interactions": interactions, "train": split.train}
            parts |= {"val": split.val, "test": split.test}
            for name, frame in parts.items():
                write_frame(frame, staging / PART_FILES[name], INTERACTIONS)
            write_frame(items, staging / ITEMS_FILE, ITEMS)
            IdMapping.from_ids(interactions["user_id"]).save(staging / USER_MAPPING_FILE)
            IdMapping.from_ids(interactions["movie_id"]).save(staging / ITEM_MAPPING_FILE)
            (staging / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
            replace_directory(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        progress.advance(task)
    return report


def load_processed(processed_dir: Path) -> ProcessedData:
    """Read what `run_preprocess` wrote; missing files raise `ProcessedDataError`."""
    needed = [*PART_FILES.values(), ITEMS_FILE, REPORT_FILE]
    missing = [name for name in needed if not (processed_dir / name).is_file()]
    if missing:
        raise ProcessedDataError(
            f"{processed_dir} lacks {', '.join(missing)}: run `movierec process` first"
        )
    try:
        parts = {name: read_frame(processed_dir / f) for name, f in PART_FILES.items()}
        return ProcessedData(
            **parts,
            items=read_items(processed_dir / ITEMS_FILE),
            report=json.loads((processed_dir / REPORT_FILE).read_text()),
        )
    except (ValueError, ParquetFileError) as exc:
        raise ProcessedDataError(
            f"{processed_dir} holds unreadable processed data ({exc}): run `movierec process`"
        ) from exc
