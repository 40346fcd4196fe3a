"""Clean the ratings, turn them into weighted implicit interactions, split and write them.

`run_preprocess(settings)` is the `movierec process` stage. It writes to `processed_dir`:

| file                         | content                                                    |
|------------------------------|------------------------------------------------------------|
| interactions.csv             | user_id, movie_id, rating, timestamp, confidence           |
| train.csv, val.csv, test.csv | the split of interactions.csv (same columns)               |
| items.csv                    | movie_id, title, year, genres ("A|B"), url; interacted movies |
| user_mapping.json            | {"<user_id>": row} over interactions.csv, ids ascending    |
| item_mapping.json            | {"<movie_id>": column} over interactions.csv, ids ascending |
| report.json                  | `PreprocessReport`: every count, per split part            |

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
from movierec.data.mappings import IdMapping
from movierec.data.split import split_interactions, user_time_order
from movierec.genres import join_genres, split_genres

INTERACTION_COLUMNS = [*RATING_COLUMNS, "confidence"]
INTERACTION_DTYPES = {
    "user_id": "int64",
    "movie_id": "int64",
    "rating": "float64",
    "timestamp": "int64",
    "confidence": "float64",
}
PART_FILES = {
    "interactions": "interactions.csv",
    "train": "train.csv",
    "val": "val.csv",
    "test": "test.csv",
}
ITEMS_FILE = "items.csv"
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
    evaluable_users (>= 1 train interaction), cold_users and cold_items.
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


def _superseded_rows(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of exact duplicate rows, and of older ratings of a (user, movie) pair.

    Only rows whose pair occurs more than once (a hash pass over one packed int64 key) get
    the costlier checks, so this stays linear on tens of millions of ratings.
    """
    user_code = pd.factorize(frame["user_id"].to_numpy())[0].astype(np.int64)
    movie_code, movies = pd.factorize(frame["movie_id"].to_numpy())
    pair = user_code * len(movies) + movie_code
    repeated = np.flatnonzero(pd.Series(pair).duplicated(keep=False).to_numpy())
    candidates = frame.iloc[repeated]
    exact = candidates.duplicated().to_numpy()
    survivors = repeated[~exact]
    by_time = survivors[np.argsort(frame["timestamp"].to_numpy()[survivors], kind="stable")]
    older = frame.iloc[by_time].duplicated(["user_id", "movie_id"], keep="last").to_numpy()
    return repeated[exact], by_time[older]


def _min_interaction_filter(
    frame: pd.DataFrame, min_user: int, min_item: int
) -> tuple[np.ndarray, int]:
    """Rows kept once users and items below their minimum are dropped until both bounds hold
    at once (k-core style), and the number of rounds that removed something."""
    user_code = pd.factorize(frame["user_id"].to_numpy())[0]
    movie_code = pd.factorize(frame["movie_id"].to_numpy())[0]
    kept = np.arange(len(frame))
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
    repeatedly, until both bounds hold. The result is sorted by user, then timestamp.
    """
    report = PreprocessReport(raw_rows=len(ratings), confidence=settings.confidence)
    frame = ratings[RATING_COLUMNS].reset_index(drop=True)
    exact, older = _superseded_rows(frame)
    report.exact_duplicates, report.duplicate_pairs = len(exact), len(older)
    unique = np.ones(len(frame), dtype=bool)
    unique[exact] = False
    unique[older] = False
    frame = frame[unique].reset_index(drop=True)
    kept, report.filter_rounds = _min_interaction_filter(
        frame, settings.min_user_interactions, settings.min_item_interactions
    )
    report.filtered_rows = len(frame) - len(kept)
    frame = frame.iloc[kept]
    order = user_time_order(frame["user_id"].to_numpy(), frame["timestamp"].to_numpy())
    frame = frame.iloc[order].reset_index(drop=True)
    interactions = frame.assign(
        confidence=confidence_weights(
            frame["rating"].to_numpy(dtype=np.float64),
            settings.confidence,
            settings.confidence_alpha,
        )
    )
    report.rows = len(interactions)
    report.users = int(interactions["user_id"].nunique())
    report.items = int(interactions["movie_id"].nunique())
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


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def run_preprocess(
    settings: DataSettings,
    dataset_dir: Path | None = None,
    amend: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> PreprocessReport:
    """Load, preprocess, split and write `processed_dir` atomically.

    `dataset_dir` is the extracted dataset (as the download stage returns it); without it the
    dataset is downloaded first if it is not already in place and verified. `amend` changes
    the raw ratings before anything else (retraining merges the feedback events with it).
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
        split = split_interactions(interactions, settings.split)
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
                _write_csv(frame[INTERACTION_COLUMNS], staging / PART_FILES[name])
            _write_csv(items.assign(genres=items["genres"].map(join_genres)), staging / ITEMS_FILE)
            IdMapping.from_ids(interactions["user_id"]).save(staging / USER_MAPPING_FILE)
            IdMapping.from_ids(interactions["movie_id"]).save(staging / ITEM_MAPPING_FILE)
            (staging / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
            replace_directory(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        progress.advance(task)
    return report


def _read_interactions(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=INTERACTION_DTYPES)[INTERACTION_COLUMNS]


def read_items(path: Path) -> pd.DataFrame:
    """items.csv back to canonical items (genres as lists, year as Int64, url missing when
    empty, as throughout a file written before items had a url)."""
    items = pd.read_csv(
        path,
        dtype={"movie_id": "int64", "title": "str", "year": "Int64", "genres": "str", "url": "str"},
        keep_default_na=False,
        na_values={"year": [""], "url": [""]},
    )
    items["genres"] = [split_genres(text) for text in items["genres"]]
    if "url" not in items:
        items["url"] = pd.Series(pd.NA, index=items.index, dtype="str")
    return items[ITEM_COLUMNS]


def load_processed(processed_dir: Path) -> ProcessedData:
    """Read what `run_preprocess` wrote; missing files raise `ProcessedDataError`."""
    needed = [*PART_FILES.values(), ITEMS_FILE, REPORT_FILE]
    missing = [name for name in needed if not (processed_dir / name).is_file()]
    if missing:
        raise ProcessedDataError(
            f"{processed_dir} lacks {', '.join(missing)}: run `movierec process` first"
        )
    try:
        parts = {name: _read_interactions(processed_dir / f) for name, f in PART_FILES.items()}
        return ProcessedData(
            **parts,
            items=read_items(processed_dir / ITEMS_FILE),
            report=json.loads((processed_dir / REPORT_FILE).read_text()),
        )
    except (ValueError, KeyError, pd.errors.ParserError) as exc:
        raise ProcessedDataError(
            f"{processed_dir} holds unreadable processed data ({exc}): run `movierec process`"
        ) from exc
