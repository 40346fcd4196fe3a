"""Replay evaluation of the hand-made log against a hand-made held-out split."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from movierec.monitoring.replay_eval import ReplayError, replay_evaluate
from tests.monitoring.conftest import KNOWN_ROWS, at
from tests.monitoring.log_rows import Row, write_log

# user 1 watched {2, 9}, user 2 {5}, user 3 {8, 9, 10}, user 4 {1} (never asked); 999 unknown.
HELDOUT = {1: [2, 9], 2: [5], 3: [8, 9, 10], 4: [1]}


@pytest.fixture
def test_split(tmp_path: Path) -> Path:
    rows = [(u, m, 4.0, 880_000_000, 1.0) for u, movies in HELDOUT.items() for m in movies]
    path = tmp_path / "processed" / "test.parquet"
    path.parent.mkdir(parents=True)
    columns = ["user_id", "movie_id", "rating", "timestamp", "confidence"]
    pd.DataFrame(rows, columns=columns).to_parquet(path, index=False)
    return path


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    directory = tmp_path / "production"
    directory.mkdir()
    # The layouts training writes: model_metadata.json holds summaries per split, metrics.json
    # every candidate's full evaluation. Validation values differ, to show test ones are used.
    metadata = {
        "version": "v2",
        "model_name": "movie-recommender",
        "model_kind": "als",
        "metrics": {"validation": {"precision@2": 0.9}, "test": {"precision@2": 0.3}},
    }
    (directory / "model_metadata.json").write_text(json.dumps(metadata))
    full = {
        "winner": "als",
        "candidates": {
            "als": {
                "validation": {"metrics": {"hit_rate@2": {"mean": 0.9}}},
                "test": {"metrics": {"hit_rate@2": {"mean": 0.6, "ci_low": 0.5, "ci_high": 0.7}}},
            },
            "popularity": {"test": {"metrics": {"hit_rate@2": {"mean": 0.1}}}},
        },
    }
    (directory / "metrics.json").write_text(json.dumps(full))
    return directory


def test_replay_k2_per_version_beside_offline(
    known_log: Path, test_split: Path, bundle: Path
) -> None:
    report = replay_evaluate(known_log, test_split, k=2, model_dir=bundle)
    # Evaluated: u1 [1,2] (1 click), u2 [1,2] (0), u2 [1,5] (1), u3 [7,8] (1); u999 excluded.
    assert report.recommend_requests == 5
    assert report.requests_evaluated == 4 and report.users_evaluated == 3
    assert report.production_version == "v2"
    v1, v2 = report.versions
    assert (v1.model_version, v1.requests, v1.users) == ("v1", 2, 2)
    assert v1.precision_at_k == pytest.approx(0.25)
    assert v1.hit_rate_at_k == pytest.approx(0.5)
    assert (v1.clicks, v1.impressions, v1.ctr) == (1, 4, pytest.approx(0.25))
    assert v1.offline_precision_at_k is None and v1.offline_hit_rate_at_k is None
    assert (v2.model_version, v2.requests, v2.users) == ("v2", 2, 2)
    assert v2.precision_at_k == pytest.approx(0.5)
    assert v2.hit_rate_at_k == pytest.approx(1.0)
    assert v2.ctr == pytest.approx(0.5)
    assert v2.offline_precision_at_k == pytest.approx(0.3)
    assert v2.offline_hit_rate_at_k == pytest.approx(0.6)
    assert report.overall is not None
    assert report.overall.precision_at_k == pytest.approx(0.375)
    assert report.overall.ctr == pytest.approx(3 / 8)


def test_replay_k3_and_short_lists(tmp_path: Path, test_split: Path) -> None:
    short = Row(at(3, 0), user_id=3, recommendations=[8], model_version="v3")
    log = write_log(tmp_path / "short.db", [*KNOWN_ROWS, short])
    report = replay_evaluate(log, test_split, k=3, model_dir=None)
    by_version = {row.model_version: row for row in report.versions}
    # v2: u2 [1,5,6] 1 click, u3 [7,8,9] 2 clicks -> precision (1/3 + 2/3) / 2
    assert by_version["v2"].precision_at_k == pytest.approx(0.5)
    assert by_version["v2"].ctr == pytest.approx(3 / 6)
    # One impression, clicked: precision divides by k, CTR by what was shown.
    assert by_version["v3"].precision_at_k == pytest.approx(1 / 3)
    assert by_version["v3"].ctr == pytest.approx(1.0)
    assert by_version["v3"].impressions == 1
    assert report.production_version is None


def test_replay_window_and_missing_inputs(
    known_log: Path, test_split: Path, tmp_path: Path
) -> None:
    report = replay_evaluate(known_log, test_split, 2, None, since=at(1, 0))
    assert report.requests_evaluated == 2  # u2 at 12:01:10 and u3 at 12:02:00
    empty = replay_evaluate(tmp_path / "missing.db", test_split, 2, None)
    assert empty.requests_evaluated == 0 and empty.overall is None and empty.versions == []
    with pytest.raises(ReplayError, match="movierec process"):
        replay_evaluate(known_log, tmp_path / "nope.parquet", 2, None)
    old_csv = tmp_path / "test.csv"
    old_csv.write_text("user_id,movie_id\n1,2\n")
    with pytest.raises(ReplayError, match=r"test\.csv: cannot read user_id, movie_id as Parquet"):
        replay_evaluate(known_log, old_csv, 2, None)
    with pytest.raises(ReplayError, match="k must be"):
        replay_evaluate(known_log, test_split, 0, None)
