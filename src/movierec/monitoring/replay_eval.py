"""Replay evaluation: how good were the recommendations the API actually served?

For every logged /recommend answer whose `user_id` appears in the held-out test split, the
first `k` logged movie ids (the impressions) are compared with the movies that user watched
in the held-out period (any rating in `test.parquet`; binary relevance, as offline):

- precision@k = hits in the first k / k, averaged over requests;
- hit rate@k  = share of requests with at least one hit in the first k;
- offline CTR = clicks / impressions summed over requests, where a click is an impression the
  user watched in the held-out period (a list shorter than k, e.g. after filters, shows fewer
  impressions: CTR uses the shown count, precision@k still divides by k).

A user asking twice counts twice (each answer was served). Results are grouped per
`model_version`; for the version that is in production (`model_metadata.json`) the offline
precision@k and hit_rate@k of training's evaluation sit beside the online ones, for other
versions they are None ("n/a").
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, true

from movierec.data.parquet import ParquetFileError, read_frame
from movierec.endpoints import RECOMMEND
from movierec.monitoring.bundle_info import offline_metrics
from movierec.monitoring.log_reader import in_window, open_log, query_frame, recommended_items
from movierec.store.database import Database
from movierec.store.tables import request_logs


class ReplayError(ValueError):
    """The replay cannot run (no test split, bad k)."""


class VersionReplay(BaseModel):
    """Online quality of one model version's logged answers, beside its offline metrics."""

    model_version: str
    requests: int
    users: int
    impressions: int
    clicks: int
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
    return VersionReplay(
        model_version=version,
        requests=len(per_request),
        users=int(per_request["user_id"].nunique()),
        impressions=int(per_request["impressions"].sum()),
        clicks=int(per_request["clicks"].sum()),
        precision_at_k=float((per_request["clicks"] / k).mean()),
        hit_rate_at_k=float((per_request["clicks"] > 0).mean()),
        ctr=float(per_request["clicks"].sum() / max(int(per_request["impressions"].sum()), 1)),
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
    """Precision@k, hit rate@k and offline CTR of logged /recommend answers (module docstring)."""
    if k < 1:
        raise ReplayError(f"k must be at least 1, got {k}")
    heldout = read_heldout(test_path)
    log = request_logs.c
    personal = (log.endpoint == RECOMMEND) & log.user_id.is_not(None) & in_window(since, until)
    with open_log(log_db) as conn:
        if conn is None:
            requests = pd.DataFrame(columns=["request_id", "user_id", "model_version"])
            shown = pd.DataFrame(columns=["request_id", "movie_id"])
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
    test_users = heldout["user_id"].unique()
    evaluated = requests[requests["user_id"].isin(test_users)].astype({"user_id": "int64"})
    shown = shown[shown["request_id"].isin(evaluated["request_id"])].merge(
        evaluated[["request_id", "user_id"]], on="request_id"
    )
    shown = shown.astype({"movie_id": "int64"}).merge(
        heldout.assign(watched=True), on=["user_id", "movie_id"], how="left"
    )
    counts = shown.groupby("request_id").agg(
        impressions=("movie_id", "size"), clicks=("watched", "count")
    )
    per_request = evaluated.merge(counts, on="request_id", how="left").fillna(
        {"impressions": 0, "clicks": 0}
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
        "CTR (clicks/impr.)",
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
            f"{row.ctr:.4f} ({row.clicks}/{row.impressions})",
        )
    console.print(table)
    if report.requests_evaluated == 0:
        console.print(
            "[yellow]No logged /recommend answer belongs to a held-out user.[/] Produce traffic "
            "with `movierec simulate`, which replays held-out users."
        )
