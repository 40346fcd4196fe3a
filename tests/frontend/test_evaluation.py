"""The About page's evaluation summary: the served model beside popularity, in plain words."""

from __future__ import annotations

import json

import pytest

from movierec.frontend.evaluation import (
    algorithm_name,
    comparison,
    comparison_chart,
    comparison_table,
    dataset_name,
    mlflow_version_url,
    split_description,
)
from tests.frontend.bundle import OFFLINE_METRICS


def test_the_model_and_its_baseline_with_their_intervals() -> None:
    frame = comparison(OFFLINE_METRICS, "ease")
    assert frame.values.tolist() == [
        ["EASE linear item model", "NDCG@10", 0.312, 0.25, 0.37],
        ["EASE linear item model", "Recall@10", 0.144, 0.11, 0.18],
        ["most popular movies", "NDCG@10", 0.151, 0.1, 0.2],
        ["most popular movies", "Recall@10", 0.061, 0.04, 0.08],
    ]
    table = comparison_table(frame)
    assert list(table.columns) == ["EASE linear item model", "most popular movies"]
    assert list(table.index) == ["NDCG@10", "Recall@10"]
    assert table.loc["Recall@10", "EASE linear item model"] == "0.144 (0.110 to 0.180)"


def test_a_bundle_without_intervals_or_baseline_shows_the_means() -> None:
    older = {"test": {"ndcg@10": 0.3, "recall@10": 0.1}, "validation": {"ndcg@10": 0.4}}
    table = comparison_table(comparison(older, "als"))
    assert table.to_dict() == {
        "ALS matrix factorisation": {"NDCG@10": "0.300", "Recall@10": "0.100"}
    }
    assert comparison({}, "als").empty
    assert comparison({"test": {"ndcg@10": "n/a"}}, "als").empty


def test_the_chart_draws_bars_and_interval_rules() -> None:
    spec = comparison_chart(comparison(OFFLINE_METRICS, "als")).to_dict()
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["bar", "rule"]
    assert spec["layer"][1]["encoding"]["y2"]["field"] == "high"
    (data,) = spec["datasets"].values()
    assert len(data) == 4 and json.dumps(data)


@pytest.mark.parametrize(
    ("kind", "name"), [("als", "ALS matrix factorisation"), ("new_kind", "new_kind")]
)
def test_algorithm_names(kind: str, name: str) -> None:
    assert algorithm_name(kind) == name


def test_split_and_dataset_names_read_naturally() -> None:
    assert split_description("global_time") == "the newest ratings"
    assert split_description("none") == "some ratings"
    assert dataset_name("ml-100k") == "MovieLens 100K"
    assert dataset_name("ml-latest-small") == "MovieLens (latest, small)"


def test_the_mlflow_link_names_the_registered_version() -> None:
    url = mlflow_version_url("http://localhost:5000/", "movie recommender", "3")
    assert url == "http://localhost:5000/#/models/movie%20recommender/versions/3"
