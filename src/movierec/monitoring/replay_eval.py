"""Replay evaluation: how good were the recommendations the API actually served?

For every logged /recommend answer whose `user_id` appears in the held-out test split, the
first `k` logged movie ids (the impressions) are compared with the movies that user watched
in the held-out period (any rating in `test.parquet`; binary relevance, as offline):

- precision@k = hits in the first k / k, averaged over requests;
- hit rate@k  = share of requests with at least one hit in the first k;
- CTR = clicks / impressions summed over requests (a list shorter than k, e.g. after filters,
  shows fewer impressions: CTR uses the shown count, precision@k still divides by k). Where
  the store holds feedback for a version's evaluated answers (any event naming one of them by
  `request_id`), a click is a real one: a `click` or `watch` event on a shown movie
  (`clicks_source="feedback"`). Otherwise it is the offline proxy: an impression the user
  watched in the held-out period (`clicks_source="held-out"`; "mixed" for the overall row
  over versions of both kinds).

A user asking twice counts twice (each answer was served). Results are grouped per
`model_version`; for the version that is in production (`model_metadata.json`) the offline
precision@k and hit_rate@k of training's evaluation sit beside the online ones, for other
versions they are None ("n/a").
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy import ColumnElement, Connection, Text, cast, func, inspect, select, true

from movierec.data.parquet import ParquetFileError, read_frame
from movierec.endpoints import RECOMMEND
from movierec.monitoring.bundle_info import offline_metrics
from movierec.monitoring.engagement import CLICK_EVENTS
from movierec.monitoring.log_reader import in_window, open_log, query_frame, recommended_items
from movierec.store.database import Database
from movierec.store.tables import feedback_events, request_logs


class ReplayError(ValueError):
    """The replay cannot run (no test split, bad k)."""


class VersionReplay(BaseModel):
    """Online quality of one model version's logged answers, beside its offline metrics."""

    model_version: str
    requests: int
    users: int
    impressions: int
    clicks: int
    clicks_source: Literal["feedback", "held-out", "mixed"]
    precision_at_k: float
    hit_rate_at_k: float
    ctr: float
    offline_precision_at_k: float | None = None
    offline_hit_rate_at_k: float | None = None


class ReplayReport(BaseModel):
    k: int
    test_path: str
    production_version: str | None
    recommend_requests: int
    requests_evaluated: int
    users_evaluated: int
    overall: VersionReplay | None
    versions: list[VersionReplay]


def _summarise(per_request: pd.DataFrame, version: str, k: int) -> VersionReplay:
    """`per_request` holds each answer's impressions, held-out `hits`, the `counted` clicks
    of its CTR and whether those are real ones (`measured`)."""
    measured = per_request["measured"]
    source = "feedback" if measured.all() else "held-out" if not measured.any() else "mixed"
    clicks = int(per_request["counted"].sum())
    impressions = int(per_request["impressions"].sum())
    return VersionReplay(
        model_version=version,
        requests=len(per_request),
        users=int(per_request["user_id"].nunique()),
        impressions=impressions,
        clicks=clicks,
        clicks_source=source,
        precision_at_k=float((per_request["hits"] / k).mean()),
        hit_rate_at_k=float((per_request["hits"] > 0).mean()),
        ctr=clicks / max(impressions, 1),
    )


def _feedback(conn: Connection, personal: ColumnElement[bool], k: int) -> pd.DataFrame:
    """(request_id, movie_id, clicked) of every feedback event naming a personal answer;
    `clicked` when it is a click or watch on one of the answer's first `k` movies."""
    if not inspect(conn).has_table(feedback_events.name):
        return pd.DataFrame(columns=["request_id", "movie_id", "clicked"])
    log, event = request_logs.c, feedback_events.c
    items, position, movie_id = recommended_items(conn)
    on_shown = (movie_id == event.movie_id) & (position < k)
    named = feedback_events.join(request_logs, cast(log.request_id, Text) == event.request_id)
    clicked = query_frame(
        conn,
        select(log.request_id, event.movie_id)
        .select_from(named.join(items, true()))
        .where(personal, on_shown, event.event.in_(CLICK_EVENTS))
        .distinct(),
    )
    answered = query_frame(conn, select(log.request_id).select_from(named).where(personal))
    return pd.concat(
        [clicked.assign(clicked=True), answered.assign(movie_id=None, clicked=False)],
        ignore_index=True,
    )


def read_heldout(test_path: Path) -> pd.DataFrame:
    """Distinct (user_id, movie_id) pairs of the held-out split."""
    if not test_path.is_file():
        raise ReplayError(
            f"held-out split {test_path} not found; run `movierec process` to write it "
            "(or pass --test-path)"
        )
    try:
        frame = read_frame(test_path, ["user_id", "movie_id"])
    except ParquetFileError as exc:
        raise ReplayError(
            f"{exc}; run `movierec process` to write the held-out split again "
            "(or pass --test-path)"
        ) from exc
    return frame.drop_duplicates()


def replay_evaluate(
    log_db: Database,
    test_path: Path,
    k: int,
    model_dir: Path | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ReplayReport:
    """Precision@k, hit rate@k and CTR of logged /recommend answers (module docstring)."""
    if k < 1:
        raise ReplayError(f"k must be at least 1, got {k}")
    heldout = read_heldout(test_path)
    log = request_logs.c
    personal = (log.endpoint == RECOMMEND) & log.user_id.is_not(None) & in_window(since, until)
    with open_log(log_db) as conn:
        if conn is None:
            requests = pd.DataFrame(columns=["request_id", "user_id", "model_version"])
            shown = pd.DataFrame(columns=["request_id", "movie_id"])
            feedback = pd.DataFrame(columns=["request_id", "movie_id", "clicked"])
        else:
            served_by = func.coalesce(log.model_version, "unknown").label("model_version")
            requests = query_frame(
                conn, select(log.request_id, log.user_id, served_by).where(personal)
            )
            items, position, movie_id = recommended_items(conn)
            shown = query_frame(
                conn,
                select(log.request_id, movie_id.label("movie_id"))
                .select_from(request_logs.join(items, true()))
                .where(personal, position < k),
            )
            feedback = _feedback(conn, personal, k)
    test_users = heldout["user_id"].unique()
    evaluated = requests[requests["user_id"].isin(test_users)].astype({"user_id": "int64"})
    shown = shown[shown["request_id"].isin(evaluated["request_id"])].merge(
        evaluated[["request_id", "user_id"]], on="request_id"
    )
    shown = shown.astype({"movie_id": "int64"}).merge(
        heldout.assign(watched=True), on=["user_id", "movie_id"], how="left"
    )
    counts = shown.groupby("request_id").agg(
        impressions=("movie_id", "size"), hits=("watched", "count")
    )
    feedback = feedback.astype({"clicked": bool})
    reactions = feedback.groupby("request_id").agg(clicks=("clicked", "sum")).reset_index()
    per_request = (
        evaluated.merge(counts, on="request_id", how="left")
        .merge(reactions, on="request_id", how="left", indicator="feedback")
        .fillna({"impressions": 0, "hits": 0, "clicks": 0})
    )
    # A version whose answers got any feedback is measured: its CTR counts real clicks.
    with_feedback = per_request["feedback"] == "both"
    per_request["measured"] = with_feedback.groupby(per_request["model_version"]).transform("any")
    per_request["counted"] = per_request["clicks"].where(
        per_request["measured"], per_request["hits"]
    )
    version, offline = offline_metrics(model_dir, [f"precision@{k}", f"hit_rate@{k}"])
    versions = []
    for name, group in per_request.groupby("model_version", sort=True):
        row = _summarise(group, str(name), k)
        if name == version:
            row.offline_precision_at_k = offline.get(f"precision@{k}")
            row.offline_hit_rate_at_k = offline.get(f"hit_rate@{k}")
        versions.append(row)
    return ReplayReport(
        k=k,
        test_path=str(test_path),
        production_version=version,
        recommend_requests=len(requests),
        requests_evaluated=len(per_request),
        users_evaluated=int(per_request["user_id"].nunique()),
        overall=_summarise(per_request, "all", k) if len(per_request) else None,
        versions=versions,
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def render_replay(report: ReplayReport, console: Console) -> None:
    """Print the per-version replay table, online beside offline."""
    k = report.k
    table = Table(
        title=f"Replay of logged /recommend answers against {report.test_path} (k={k})",
        caption=f"{report.requests_evaluated} of {report.recommend_requests} logged requests "
        f"from {report.users_evaluated} held-out users evaluated; production version: "
        f"{report.production_version or 'n/a'}",
    )
    for column in (
        "model version",
        "requests",
        "users",
        f"precision@{k}",
        f"offline precision@{k}",
        f"hit rate@{k}",
        f"offline hit rate@{k}",
        "CTR (clicks/impr., from)",
    ):
        table.add_column(column, justify="left" if column == "model version" else "right")
    several = report.overall is not None and len(report.versions) > 1
    rows = report.versions + ([report.overall] if report.overall and several else [])
    for row in rows:
        table.add_row(
            row.model_version,
            str(row.requests),
            str(row.users),
            _fmt(row.precision_at_k),
            _fmt(row.offline_precision_at_k),
            _fmt(row.hit_rate_at_k),
            _fmt(row.offline_hit_rate_at_k),
            f"{row.ctr:.4f} ({row.clicks}/{row.impressions}, {row.clicks_source})",
        )
    console.print(table)
    if report.requests_evaluated == 0:
        console.print(
            "[yellow]No logged /recommend answer belongs to a held-out user.[/] Produce traffic "
            "with `movierec simulate`, which replays held-out users."
        )
