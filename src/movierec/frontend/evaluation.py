"""The served model's offline evaluation in a movie-goer's words, for the About page.

Reads the `metrics` of `GET /model` as training writes them: `test` means, `test_intervals`
(95% bootstrap [low, high]) and `baseline`, the same for the most-popular baseline. Bundles
written before intervals or the baseline were recorded give what they have.

Usage:
    >>> metrics = {"test": {"ndcg@10": 0.23}, "test_intervals": {"ndcg@10": [0.17, 0.29]}}
    >>> comparison(metrics, "als")[["model", "metric", "mean", "low"]].values.tolist()
    [['ALS matrix factorisation', 'NDCG@10', 0.23, 0.17]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import altair as alt
import pandas as pd

ALGORITHMS = {
    "als": "ALS matrix factorisation",
    "ease": "EASE linear item model",
    "item_item": "item-to-item similarity",
    "popularity": "most popular movies",
}
SPLITS = {
    "global_time": "the newest ratings",
    "leave_last_n": "the last ratings",
    "stratified_random": "a random quarter of the ratings",
}
DATASETS = {
    "ml-100k": "MovieLens 100K",
    "ml-1m": "MovieLens 1M",
    "ml-10m": "MovieLens 10M",
    "ml-20m": "MovieLens 20M",
    "ml-25m": "MovieLens 25M",
    "ml-32m": "MovieLens 32M",
    "ml-latest": "MovieLens (latest)",
    "ml-latest-small": "MovieLens (latest, small)",
}
# What each headline metric rewards, in plain words.
HEADLINE = {
    "ndcg@10": ("NDCG@10", "movies the user went on to rate, ranked near the top of 10"),
    "recall@10": ("Recall@10", "share of the movies the user went on to rate found in 10"),
}
COLUMNS = ["model", "metric", "mean", "low", "high"]


def algorithm_name(kind: str) -> str:
    """'als' -> 'ALS matrix factorisation'; unknown kinds as given."""
    return ALGORITHMS.get(kind, kind)


def split_description(strategy: str) -> str:
    """Which ratings were held back from training to test the model ('global_time': 'the
    newest ratings'); 'some ratings' for a strategy without a description."""
    return SPLITS.get(strategy, "some ratings")


def dataset_name(dataset: str) -> str:
    """'ml-100k' -> 'MovieLens 100K'; unknown datasets as given."""
    return DATASETS.get(dataset, dataset)


def _interval(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, Sequence) and len(value) == 2:
        low, high = value
        if isinstance(low, int | float) and isinstance(high, int | float):
            return float(low), float(high)
    return None, None


def _rows(summary: Mapping[str, Any], model: str, names: Sequence[str]) -> list[list[Any]]:
    means = summary.get("test", {})
    intervals = summary.get("test_intervals", {})
    rows = []
    for name in names:
        mean = means.get(name) if isinstance(means, Mapping) else None
        if isinstance(mean, int | float) and not isinstance(mean, bool):
            low, high = _interval(intervals.get(name) if isinstance(intervals, Mapping) else None)
            rows.append([model, HEADLINE.get(name, (name, ""))[0], float(mean), low, high])
    return rows


def comparison(
    metrics: Mapping[str, Any], model_kind: str, names: Sequence[str] = tuple(HEADLINE)
) -> pd.DataFrame:
    """Test-split `names` of the model and of its baseline, one row per model and metric:
    model (readable name), metric ("NDCG@10"), mean, low, high (None without an interval)."""
    rows = _rows(metrics, algorithm_name(model_kind), names)
    baseline = metrics.get("baseline")
    if isinstance(baseline, Mapping):
        kind = str(baseline.get("model_kind", "popularity"))
        rows += _rows(baseline, algorithm_name(kind), names)
    return pd.DataFrame(rows, columns=COLUMNS)


def _cell(mean: float, low: float | None, high: float | None) -> str:
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return f"{mean:.3f}"
    return f"{mean:.3f} ({low:.3f} to {high:.3f})"


def comparison_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per metric, one column per model, cells 'mean (low to high)'."""
    cells = frame.assign(
        cell=[
            _cell(mean, low, high)
            for mean, low, high in zip(frame["mean"], frame["low"], frame["high"], strict=True)
        ]
    )
    table = cells.pivot(index="metric", columns="model", values="cell")
    table = table.loc[list(dict.fromkeys(frame["metric"])), list(dict.fromkeys(frame["model"]))]
    table.index.name = None
    table.columns.name = None
    return table


def comparison_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Bars of the means per metric and model, with the 95% intervals as black lines."""
    order = list(dict.fromkeys(frame["model"]))
    base = alt.Chart(frame, height=200).encode(
        x=alt.X("metric:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("model:N", sort=order),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("mean:Q", title="test score (higher is better)"),
        color=alt.Color(
            "model:N",
            sort=order,
            title=None,
            scale=alt.Scale(range=["#E4572E", "#9AA5B1"]),
            legend=alt.Legend(orient="top", labelLimit=0),
        ),
        tooltip=[
            "model:N",
            "metric:N",
            alt.Tooltip("mean:Q", format=".3f"),
            alt.Tooltip("low:Q", title="95% interval from", format=".3f"),
            alt.Tooltip("high:Q", title="95% interval to", format=".3f"),
        ],
    )
    intervals = base.mark_rule(color="black", strokeWidth=2).encode(y="low:Q", y2="high:Q")
    return bars + intervals


def mlflow_version_url(mlflow_url: str, model_name: str, version: str) -> str:
    """The MLflow UI page of a registered model version."""
    name, number = quote(model_name, safe=""), quote(version, safe="")
    return f"{mlflow_url.rstrip('/')}/#/models/{name}/versions/{number}"
