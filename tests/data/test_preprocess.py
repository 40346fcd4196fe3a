"""preprocess (hand-checked), run_preprocess outputs, atomicity and load_processed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from movierec.config import DataSettings
from movierec.data import DataError
from movierec.data.download import DownloadError, download_dataset
from movierec.data.mappings import IdMapping
from movierec.data.preprocess import (
    ProcessedDataError,
    load_processed,
    preprocess,
    run_preprocess,
)
from tests.data.conftest import data_settings_for, write_zip

COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]


def _ratings(rows: list[tuple[int, int, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS).astype({"rating": "float64"})


def _settings(**data: object) -> DataSettings:
    return DataSettings.model_validate(data)


def test_duplicates_and_iterative_filters_hand_checked() -> None:
    ratings = _ratings(
        [
            (1, 1, 4, 10),
            (1, 1, 4, 10),  # exact duplicate
            (1, 2, 3, 20),
            (1, 2, 5, 30),  # re-rating of (1, 2): the older one goes
            (1, 3, 1, 40),
            (2, 1, 2, 15),
            (2, 3, 4, 25),
            (3, 4, 5, 50),  # user 3 has one rating: removed in round 1
            (4, 5, 5, 60),  # movie 5 has one rating: removed in round 1 ...
            (4, 1, 3, 61),  # ... then user 4 has one rating left: removed in round 2
        ]
    )

    interactions, report = preprocess(
        ratings, _settings(min_user_interactions=2, min_item_interactions=2)
    )

    assert (report.raw_rows, report.exact_duplicates, report.duplicate_pairs) == (10, 1, 1)
    assert (report.filtered_rows, report.filter_rounds) == (4, 2)
    # Movie 2 (rated by user 1 only) goes in round 1 as well.
    assert interactions[COLUMNS].values.tolist() == [
        [1, 1, 4, 10],
        [1, 3, 1, 40],
        [2, 1, 2, 15],
        [2, 3, 4, 25],
    ]
    assert (report.rows, report.users, report.items) == (4, 2, 2)


def test_a_rerated_pair_keeps_the_latest_rating() -> None:
    ratings = _ratings([(1, 7, 5, 300), (1, 7, 2, 100), (1, 8, 3, 200)])

    interactions, report = preprocess(ratings, _settings(min_user_interactions=1))

    assert interactions[COLUMNS].values.tolist() == [[1, 8, 3, 200], [1, 7, 5, 300]]
    assert report.duplicate_pairs == 1


@pytest.mark.parametrize(
    ("kind", "alpha", "expected"),
    [
        ("linear", 0.5, [1 + 0.5 * 1, 1 + 0.5 * 4]),
        ("log", 2.0, [1 + 2 * np.log(2), 1 + 2 * np.log(5)]),
        ("binary", 3.0, [1.0, 1.0]),
    ],
)
def test_confidence_weights(kind: str, alpha: float, expected: list[float]) -> None:
    ratings = _ratings([(1, 1, 1, 10), (1, 2, 4, 20)])

    interactions, _ = preprocess(
        ratings, _settings(min_user_interactions=1, confidence=kind, confidence_alpha=alpha)
    )

    np.testing.assert_allclose(interactions["confidence"], expected)
    assert interactions["rating"].tolist() == [1.0, 4.0]  # every rating stays an interaction


def test_run_preprocess_writes_every_output(data_settings: DataSettings) -> None:
    report = run_preprocess(data_settings)

    out = data_settings.processed_dir
    assert sorted(p.name for p in out.iterdir()) == [
        "interactions.parquet",
        "item_mapping.json",
        "items.parquet",
        "report.json",
        "test.parquet",
        "train.parquet",
        "user_mapping.json",
        "val.parquet",
    ]
    interactions = pd.read_parquet(out / "interactions.parquet")
    assert interactions.dtypes.astype(str).to_dict() == {
        "user_id": "int64",
        "movie_id": "int64",
        "rating": "float64",
        "timestamp": "int64",
        "confidence": "float64",
    }
    parts = [pd.read_parquet(out / f"{name}.parquet") for name in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == len(interactions) == report.rows
    users = IdMapping.load(out / "user_mapping.json")
    assert users.ids.tolist() == sorted(interactions["user_id"].unique().tolist())
    items = IdMapping.load(out / "item_mapping.json")
    assert items.ids.tolist() == sorted(interactions["movie_id"].unique().tolist())
    catalogue = pq.read_table(out / "items.parquet")
    assert catalogue.schema.names == ["movie_id", "title", "year", "genres", "url"]
    assert str(catalogue.schema.field("genres").type) == "list<element: string>"
    assert catalogue.column("movie_id").to_pylist() == items.ids.tolist()
    assert any(len(genres) > 1 for genres in catalogue.column("genres").to_pylist())
    saved = json.loads((out / "report.json").read_text())
    assert saved == report.to_dict()
    assert saved["splits"]["test"]["rows"] == len(parts[2])
    test_users = set(parts[2]["user_id"])
    evaluable = test_users & set(parts[0]["user_id"])
    assert saved["splits"]["test"]["evaluable_users"] == len(evaluable)
    assert saved["splits"]["test"]["cold_users"] == len(test_users - evaluable)


def test_run_preprocess_reads_the_given_dataset_and_fetches_nothing(
    data_settings: DataSettings, tmp_path: Path
) -> None:
    """The pipeline hands the download stage's directory on: processing fetches nothing."""
    dataset_dir = download_dataset(data_settings)
    offline = data_settings.model_copy(
        update={"base_url": str(tmp_path / "no-mirror"), "raw_dir": tmp_path / "no-raw"}
    )

    report = run_preprocess(offline, dataset_dir)

    assert report.rows > 0 and (offline.processed_dir / "train.parquet").is_file()
    assert not offline.raw_dir.exists()
    with pytest.raises(DownloadError):  # without the directory it would fetch
        run_preprocess(offline)


def test_load_processed_round_trips_types(data_settings: DataSettings) -> None:
    run_preprocess(data_settings)

    data = load_processed(data_settings.processed_dir)

    assert str(data.train["user_id"].dtype) == "int64"
    assert str(data.test["confidence"].dtype) == "float64"
    assert str(data.items["year"].dtype) == "Int64"
    assert data.items["genres"].map(type).eq(list).all()
    links = data.items.set_index("movie_id")["url"]  # odd ids of the synthetic data link IMDb
    assert links.loc[1] == "https://www.imdb.com/find/?q=Synthetic+Movie+1+%281980%29&s=tt"
    assert links.loc[links.index % 2 == 1].notna().all() and links.loc[2::2].isna().all()
    assert data.report["dataset"] == "ml-100k"
    assert len(data.interactions) == len(data.train) + len(data.val) + len(data.test)


def test_load_processed_missing_says_run_process(tmp_path: Path) -> None:
    with pytest.raises(ProcessedDataError, match=r"train\.parquet.*run `movierec process`"):
        load_processed(tmp_path)


def test_a_damaged_processed_file_says_run_process(data_settings: DataSettings) -> None:
    run_preprocess(data_settings)
    out = data_settings.processed_dir
    (out / "val.parquet").write_text("user_id,movie_id\n1,2\n")  # CSV of an older version

    with pytest.raises(ProcessedDataError, match=r"val\.parquet.*run `movierec process`"):
        load_processed(out)


def test_a_failure_while_writing_leaves_the_previous_output(
    data_settings: DataSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_preprocess(data_settings)
    out = data_settings.processed_dir
    before = (out / "train.parquet").read_bytes()

    def broken_save(self: IdMapping, path: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(IdMapping, "save", broken_save)
    changed = data_settings.model_copy(
        update={"split": data_settings.split.model_copy(update={"strategy": "leave_last_n"})}
    )
    with pytest.raises(OSError, match="disk full"):
        run_preprocess(changed)

    assert (out / "train.parquet").read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["processed", "raw"]


def test_malformed_rows_are_reported(tmp_path: Path) -> None:
    u_data = "".join(
        f"{u}\t{m}\t{(u + m) % 5 + 1}\t{1000 + m}\n" for u in range(1, 4) for m in range(1, 7)
    )
    u_item = "".join(f"{m}|Movie {m} (1990)|01-Jan-1990||x|0|1\n" for m in range(1, 7))
    write_zip(
        tmp_path / "mirror/ml-100k.zip",
        {
            "ml-100k/u.data": (u_data + "1\t2\tfive\t3\n4\t1\t9\t1\n").encode(),
            "ml-100k/u.item": u_item.encode(),
            "ml-100k/u.genre": b"unknown|0\nAction|1\n",
        },
    )
    settings = data_settings_for(tmp_path, tmp_path / "mirror", None)

    report = run_preprocess(settings)

    assert report.malformed_rows == 2
    assert (report.raw_rows, report.users, report.items) == (18, 3, 6)


def test_nothing_left_after_filters_is_an_error(data_settings: DataSettings) -> None:
    strict = data_settings.model_copy(update={"min_user_interactions": 10_000})

    with pytest.raises(DataError, match="min_user_interactions=10000"):
        run_preprocess(strict)

    assert not strict.processed_dir.exists()
