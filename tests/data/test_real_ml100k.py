"""Data tests on the real MovieLens 100K from the local mirror (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from movierec.config import DataSettings
from movierec.data.download import download_dataset
from movierec.data.loaders import RawDataset, load_dataset
from movierec.data.preprocess import load_processed, run_preprocess
from tests.conftest import real_mirror, requires_ml100k
from tests.data.conftest import data_settings_for

pytestmark = requires_ml100k

CHECKSUMS = {
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
}


@pytest.fixture(scope="module")
def ml100k_settings(tmp_path_factory: pytest.TempPathFactory) -> DataSettings:
    mirror = real_mirror()
    assert mirror is not None
    return data_settings_for(tmp_path_factory.mktemp("ml100k"), mirror, CHECKSUMS)


@pytest.fixture(scope="module")
def ml100k(ml100k_settings: DataSettings) -> RawDataset:
    return load_dataset("ml-100k", download_dataset(ml100k_settings))


def test_ratings_schema_and_ranges(ml100k: RawDataset) -> None:
    ratings = ml100k.ratings
    assert len(ratings) == 100_000
    assert ml100k.malformed_rows == 0
    assert ratings["user_id"].nunique() == 943
    assert ratings["movie_id"].nunique() == 1682
    assert set(ratings["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ratings["timestamp"].between(874_000_000, 894_000_000).all()


def test_items_are_parsed(ml100k: RawDataset) -> None:
    items = ml100k.items.set_index("movie_id")
    assert len(items) == 1682
    star_wars = items.loc[50]
    assert (star_wars["title"], star_wars["year"]) == ("Star Wars", 1977)
    assert {"Action", "Sci-Fi", "War"} <= set(star_wars["genres"])
    assert star_wars["url"] == "https://www.imdb.com/find/?q=Star+Wars+%281977%29&s=tt"
    assert items["url"].notna().sum() >= 1675  # a few u.item rows have no link
    assert items.loc[181, "title"] == "Return of the Jedi"
    assert not items["title"].str.contains(r"\(\d{4}\)$").any()
    assert items["year"].notna().sum() >= 1680


def test_stratified_split_matches_the_benchmark_protocol(
    ml100k_settings: DataSettings, tmp_path: Path
) -> None:
    settings = ml100k_settings.model_copy(
        update={
            "processed_dir": tmp_path / "processed",
            "split": ml100k_settings.split.model_copy(update={"strategy": "stratified_random"}),
        }
    )

    report = run_preprocess(settings)
    data = load_processed(settings.processed_dir)

    assert report.rows == 100_000  # every ml-100k user has >= 20 ratings
    assert abs(len(data.test) / report.rows - 0.25) < 0.005
    assert report.splits["test"]["evaluable_users"] == 943
    merged = pd.concat([data.train, data.val, data.test])
    assert not merged.duplicated(["user_id", "movie_id"]).any()
