"""Item features: schema, hand-checked statistics from train only, ranges, the written file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from movierec.config import DataSettings
from movierec.data.preprocess import ProcessedDataError, load_processed, run_preprocess
from movierec.features.build import build_item_features, run_build_features
from tests.data.conftest import data_settings_for


def _items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "movie_id": [3, 1, 2],
            "title": ["Third", "First", "Second"],
            "year": pd.array([2001, 1999, pd.NA], dtype="Int64"),
            "genres": [["Drama"], ["Action", "Sci-Fi"], []],
            "url": pd.array(["https://www.imdb.com/title/tt0000003/", pd.NA, pd.NA], dtype="str"),
        }
    )


def _train() -> pd.DataFrame:
    return pd.DataFrame(
        {"movie_id": [1, 1, 1, 3], "user_id": [1, 2, 3, 1], "rating": [5.0, 4.0, 3.0, 2.0]}
    )


def test_statistics_are_hand_checked() -> None:
    features = build_item_features(_items(), _train())

    assert features["movie_id"].tolist() == [1, 2, 3]
    assert features["n_ratings"].tolist() == [3, 0, 1]
    # Movie 2 has no training rating: the global train mean, (5 + 4 + 3 + 2) / 4.
    assert features["mean_rating"].tolist() == [4.0, 3.5, 2.0]
    assert features["genres"].tolist() == [["Action", "Sci-Fi"], [], ["Drama"]]
    assert features["url"].isna().tolist() == [True, True, False]
    assert features["url"].iloc[2] == "https://www.imdb.com/title/tt0000003/"


def test_schema_one_hot_and_ranges() -> None:
    features = build_item_features(_items(), _train())

    assert list(features.columns) == [
        "movie_id",
        "title",
        "year",
        "genres",
        "url",
        "n_ratings",
        "mean_rating",
        "genre_Action",
        "genre_Drama",
        "genre_Sci-Fi",
    ]
    assert features[["genre_Action", "genre_Drama", "genre_Sci-Fi"]].values.tolist() == [
        [1, 0, 1],
        [0, 0, 0],
        [0, 1, 0],
    ]
    assert not features[["n_ratings", "mean_rating"]].isna().any().any()


def test_only_train_counts(data_settings: DataSettings) -> None:
    """Ratings of the val/test parts must not reach the features (no leakage)."""
    run_preprocess(data_settings)
    data = load_processed(data_settings.processed_dir)

    features = build_item_features(data.items, data.train).set_index("movie_id")

    expected = data.train.groupby("movie_id").size()
    assert (features["n_ratings"] == expected.reindex(features.index, fill_value=0)).all()
    assert features["n_ratings"].sum() == len(data.train) < len(data.interactions)


def test_run_build_features_writes_typed_parquet(data_settings: DataSettings) -> None:
    run_preprocess(data_settings)

    path = run_build_features(data_settings)

    assert path == data_settings.features_dir / "item_features.parquet"
    schema = pq.read_schema(path)
    types = {name: str(schema.field(name).type) for name in schema.names}
    assert list(types)[:7] == [
        "movie_id",
        "title",
        "year",
        "genres",
        "url",
        "n_ratings",
        "mean_rating",
    ]
    assert types["movie_id"] == types["year"] == types["n_ratings"] == "int64"
    assert types["genres"] == "list<element: string>" and types["mean_rating"] == "double"
    one_hot = [t for name, t in types.items() if name.startswith("genre_")]
    assert one_hot and set(one_hot) == {"int8"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["item_features.parquet"]


def test_missing_processed_data_is_a_clear_error(tmp_path: Path) -> None:
    settings = data_settings_for(tmp_path, tmp_path, None)

    with pytest.raises(ProcessedDataError, match="movierec process"):
        run_build_features(settings)

    assert not settings.features_dir.exists()
