"""The training data: the processed splits as matrices over one user and one item vocabulary.

Train carries the confidence weights of preprocessing; validation and test are 0/1
relevance (every held-out rating counts). The catalogue records of the trained movies come
from the item features, in column order, for the bundle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.artifacts import ItemRecord
from movierec.config import Settings
from movierec.data.mappings import IdMapping, interaction_matrix
from movierec.data.parquet import ParquetFileError, read_items
from movierec.data.preprocess import PART_FILES, load_processed
from movierec.features.build import FEATURES_FILE
from movierec.training import TrainingError


@dataclass
class TrainingData:
    """The processed splits as matrices over one user and one item vocabulary."""

    users: IdMapping
    items: IdMapping
    train: sp.csr_matrix
    val: sp.csr_matrix
    test: sp.csr_matrix
    train_val: sp.csr_matrix
    dataset: str
    split_strategy: str
    fingerprint: str


def data_fingerprint(paths: Iterable[Path]) -> str:
    """SHA-256 over the names and bytes of `paths` (the processed train/val/test files)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _relevance(frame: pd.DataFrame, users: IdMapping, items: IdMapping) -> sp.csr_matrix:
    """Held-out interactions as a 0/1 matrix: every rating counts as relevant."""
    return interaction_matrix(frame.assign(relevant=1.0), users, items, value="relevant")


def load_training_data(settings: Settings) -> TrainingData:
    """Read the processed splits and build the train, val, test and train+val matrices."""
    processed = load_processed(settings.data.processed_dir)
    users = IdMapping.from_ids(processed.interactions["user_id"].to_numpy())
    items = IdMapping.from_ids(processed.interactions["movie_id"].to_numpy())
    train = interaction_matrix(processed.train, users, items)
    val = interaction_matrix(processed.val, users, items)
    paths = [settings.data.processed_dir / PART_FILES[p] for p in ("train", "val", "test")]
    return TrainingData(
        users=users,
        items=items,
        train=train,
        val=_relevance(processed.val, users, items),
        test=_relevance(processed.test, users, items),
        train_val=(train + val).tocsr(),
        dataset=str(processed.report.get("dataset", settings.data.dataset)),
        split_strategy=str(processed.report.get("split_strategy", settings.data.split.strategy)),
        fingerprint=data_fingerprint(paths),
    )


def load_catalogue(settings: Settings, items: IdMapping) -> list[ItemRecord]:
    """Catalogue records of `items` in column order, from the features file."""
    path = settings.data.features_dir / FEATURES_FILE
    if not path.is_file():
        raise TrainingError(f"{path} not found: run `movierec features` first")
    try:
        features = read_items(path).set_index("movie_id")
    except ParquetFileError as exc:
        raise TrainingError(f"{exc}: run `movierec features` again") from exc
    missing = np.setdiff1d(items.ids, features.index.to_numpy())
    if len(missing):
        raise TrainingError(
            f"{path} lacks {len(missing)} trained movies (e.g. {missing[:3].tolist()}): it is "
            "older than the processed data; run `movierec features` again"
        )
    rows = features.loc[items.ids]
    return [
        ItemRecord(
            movie_id=int(movie_id),
            title=str(title),
            year=None if pd.isna(year) else int(year),
            genres=list(genres),
            url=None if pd.isna(url) else str(url),
        )
        for movie_id, title, year, genres, url in zip(
            rows.index, rows["title"], rows["year"], rows["genres"], rows["url"], strict=True
        )
    ]
