"""About page: API health, the served model and how well it recommends (beside the popular
movies), its MLflow page and links to the API docs.

A Streamlit page script, run by `st.navigation` in `app.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from movierec.config import load_settings
from movierec.frontend.api_client import ApiClient, ApiError, Health, ModelDescription
from movierec.frontend.components import current_client, current_model_description, show_error
from movierec.frontend.evaluation import (
    HEADLINE,
    algorithm_name,
    comparison,
    comparison_chart,
    comparison_table,
    dataset_name,
    mlflow_version_url,
    split_description,
)


def humanize_seconds(seconds: float) -> str:
    """'2 d 3 h', '4 h 12 min', '5 min 7 s' or '42 s'."""
    total = int(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def humanize_timestamp(value: str | None) -> str:
    """An ISO 8601 time as 'YYYY-MM-DD HH:MM UTC' (or as given when it is not ISO)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    offset = moment.utcoffset()
    zone = "" if offset is None else " UTC" if not offset else moment.strftime(" UTC%z")
    return moment.strftime("%Y-%m-%d %H:%M") + zone


def _number(value: Any) -> float | None:
    """A metric value, plain or summarised as {"mean": ...}."""
    if isinstance(value, Mapping):
        value = value.get("mean", value.get("value"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _metric_order(name: str) -> tuple[str, int]:
    family, _, k = name.partition("@")
    return family, int(k) if k.isdigit() else 0


def metrics_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """One row per metric (`ndcg@10`...), one column per evaluated split (test, validation).

    Takes the metrics of `GET /model`: either flat `{"ndcg@10": 0.31}` or grouped by
    split `{"test": {"ndcg@10": 0.31}, "validation": {...}}`; values may be `{"mean": ...}`.
    """
    columns: dict[str, dict[str, float]] = {}
    for name, value in metrics.items():
        if isinstance(value, Mapping) and _number(value) is None:
            numbers = {
                k: v for k, v in ((k, _number(v)) for k, v in value.items()) if v is not None
            }
            if numbers:
                columns[name] = numbers
        elif "@" in name and (number := _number(value)) is not None:
            columns.setdefault("value", {})[name] = number
    table = pd.DataFrame(columns)
    if table.empty:
        return table
    table = table.loc[sorted(table.index, key=_metric_order)]
    table.index.name = "metric"
    return table


def health_section(client: ApiClient) -> Health | None:
    """The API's health as a row of figures."""
    st.subheader("Service", anchor=False)
    try:
        health = client.health()
    except ApiError as exc:
        show_error(exc)
        return None
    if not health.ready:
        st.warning(
            f"The API answers but serves no model: {health.reason or 'no reason given'}. "
            "Run `make train`, then restart the API.",
            icon=":material/warning:",
        )
    columns = st.columns(4)
    columns[0].metric("Status", "Ready" if health.ready else "Not ready", border=True)
    uptime = humanize_seconds(health.uptime_seconds) if health.uptime_seconds else "—"
    columns[1].metric("Uptime", uptime, border=True)
    users = f"{health.n_users:,}" if health.n_users is not None else "—"
    columns[2].metric("Users", users, border=True)
    movies = f"{health.n_items:,}" if health.n_items is not None else "—"
    columns[3].metric("Movies", movies, border=True)
    if health.model_version:
        st.markdown(
            f"Serving model **`{health.model_version}`**, loaded "
            f"{humanize_timestamp(health.model_loaded_at)}."
        )
    return health


def evaluation_section(description: ModelDescription) -> None:
    """How the served model scored on held-out ratings, beside the most-popular baseline."""
    frame = comparison(description.metrics, description.model_kind)
    if frame.empty:
        st.info("No test results were recorded for this model.")
        return
    users = description.metrics.get("test_users")
    who = f"{users:,} users" if isinstance(users, int) else "some users"
    held_back = split_description(description.split_strategy)
    st.markdown(
        f"We held {held_back} of {who} back from training, then asked for 10 movies for each "
        "of them: the scores say how many of the movies they went on to rate are among the 10, "
        "and how near the top. Everyone getting the most popular movies is the yardstick."
    )
    left, right = st.columns([1, 1], gap="large")
    left.dataframe(comparison_table(frame), width="stretch")
    left.caption(
        " · ".join(f"**{label}**: {meaning}" for label, meaning in HEADLINE.values())
        + ". In brackets: the 95% interval; where two intervals overlap, the difference "
        "may be chance."
    )
    right.altair_chart(comparison_chart(frame), width="stretch")


def model_section(mlflow_url: str) -> None:
    """What the served model is, how it scored offline, and where MLflow shows it."""
    st.subheader("Model", anchor=False)
    description = current_model_description()
    if description is None:
        st.info("The model's description is not available (no model exported yet).")
        return
    facts = {
        "Algorithm": algorithm_name(description.model_kind) or description.model_name,
        "Trained": humanize_timestamp(description.trained_at),
        "Ratings": dataset_name(description.dataset),
    }
    st.markdown(" · ".join(f"**{key}:** {value}" for key, value in facts.items() if value))
    if description.model_name and description.version:
        link = mlflow_version_url(mlflow_url, description.model_name, description.version)
        st.markdown(
            f"Registered as **{description.model_name}** version **{description.version}**: "
            f"[open it in MLflow]({link}) for its parameters, runs and artifacts."
        )
    st.subheader("How good are the recommendations?", anchor=False)
    evaluation_section(description)
    table = metrics_table(description.metrics)
    if table.empty:
        return
    with st.expander("Every offline metric (mean over the evaluated users)"):
        users = {
            name.removesuffix("_users"): value
            for name, value in description.metrics.items()
            if name.endswith("_users") and isinstance(value, int)
        }
        if users:
            st.caption(" · ".join(f"{split}: {count:,} users" for split, count in users.items()))
        st.dataframe(
            table,
            height="content",  # every metric in view, no scrolling inside the table
            column_config={c: st.column_config.NumberColumn(format="%.4f") for c in table.columns},
        )


def render() -> None:
    """The About page."""
    st.title(":material/info: About MovieRec")
    st.caption(
        "A movie recommender trained on MovieLens ratings, served by a FastAPI service. "
        "This page shows what is running right now."
    )
    client = current_client()
    health = health_section(client)
    if health is not None:
        model_section(load_settings().frontend.mlflow_url)
    st.subheader("API", anchor=False)
    public_url = load_settings().frontend.public_api_url
    st.markdown(
        f"The frontend talks to **{client.base_url}**. Interactive documentation: "
        f"[Swagger UI]({public_url}/docs) · [ReDoc]({public_url}/redoc)"
    )


render()
