"""Online KPIs of the feedback loop: what people did with the recommendations they were shown.

Feedback events (`feedback_events`) are joined to the logged /recommend answer that produced
them by `request_id`; only events on a movie of that answer count. Over the answers logged in
`since <= timestamp < until`:

- impressions: the movies shown, summed over answers;
- click-through rate: shown movies that got a `click` or `watch` event / impressions;
- rating rate: shown movies that got a `rating` event / impressions;
- dislike rate: shown movies that got a `dislike` event / impressions;
- mean rating: mean of the latest rating of each rated shown movie.

A movie counts once per answer however many events of a kind it got. Rates carry a Wilson
score interval, the mean rating a Student-t interval (clipped to the rating scale), both at
`confidence`, computed by scipy. Results are grouped per `model_version` of the answer and per
fallback path (`personalised`, or the answer's `fallback_reason`). Events whose `request_id`
is missing or was never served are counted apart (by their `created_at` in the window).
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from scipy import stats
from sqlalchemy import ColumnElement, Connection, Text, case, cast, func, inspect, select, true

from movierec.endpoints import RECOMMEND
from movierec.monitoring.log_reader import (
    answer_length,
    in_window,
    open_log,
    query_frame,
    recommended_items,
    to_log_time,
)
from movierec.store.database import Database
from movierec.store.tables import feedback_events, request_logs

PERSONALISED = "personalised"
CLICK_EVENTS = ("click", "watch")
RATING_SCALE = (0.5, 5.0)


class Rate(BaseModel):
    """`count` of `trials`, their ratio and its interval (None without trials)."""

    count: int
    trials: int
    value: float | None
    low: float | None
    high: float | None


class Mean(BaseModel):
    """The mean of `count` values and its interval (None for fewer than two values)."""

    count: int
    value: float | None
    low: float | None
    high: float | None


class EngagementRow(BaseModel):
    """The KPIs of one group of logged answers (a model version, a fallback path, or all)."""

    group: str
    requests: int
    impressions: int
    ctr: Rate
    rating_rate: Rate
    dislike_rate: Rate
    mean_rating: Mean


class EngagementReport(BaseModel):
    """Everything the engagement table, its JSON and the dashboard panel show."""

    since: datetime | None
    until: datetime | None
    confidence: float
    events_total: int
    events_without_request: int
    events_unknown_request: int
    overall: EngagementRow | None
    by_version: list[EngagementRow]
    by_path: list[EngagementRow]


def proportion_interval(
    successes: int, trials: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Wilson score interval of `successes` out of `trials` (at least one trial)."""
    interval = stats.binomtest(successes, trials).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


def mean_interval(
    values: np.ndarray, confidence: float = 0.95, bounds: tuple[float, float] = RATING_SCALE
) -> tuple[float, float]:
    """Student-t interval of the mean of `values` (at least two), clipped to `bounds`."""
    sem = float(stats.sem(values))
    if sem == 0.0:
        mean = float(np.mean(values))
        return mean, mean
    low, high = stats.t.interval(confidence, len(values) - 1, loc=np.mean(values), scale=sem)
    return max(bounds[0], float(low)), min(bounds[1], float(high))


def rate(count: int, trials: int, confidence: float) -> Rate:
    """`count / trials` with its Wilson interval."""
    if trials == 0:
        return Rate(count=count, trials=0, value=None, low=None, high=None)
    low, high = proportion_interval(count, trials, confidence)
    return Rate(count=count, trials=trials, value=count / trials, low=low, high=high)


def mean(values: np.ndarray, confidence: float) -> Mean:
    """The mean of `values` with its t interval."""
    if values.size == 0:
        return Mean(count=0, value=None, low=None, high=None)
    low, high = mean_interval(values, confidence) if values.size > 1 else (None, None)
    return Mean(count=int(values.size), value=float(values.mean()), low=low, high=high)


def _row(
    group: str, answers: pd.DataFrame, events: pd.DataFrame, confidence: float
) -> EngagementRow:
    impressions = int(answers["impressions"].sum())
    kinds = events["event"]
    clicked = events[kinds.isin(CLICK_EVENTS)].drop_duplicates(["request_id", "movie_id"])
    ratings = (
        events[kinds == "rating"]
        .sort_values("event_id")
        .drop_duplicates(["request_id", "movie_id"], keep="last")
    )
    disliked = events[kinds == "dislike"].drop_duplicates(["request_id", "movie_id"])
    return EngagementRow(
        group=group,
        requests=int(answers["requests"].sum()),
        impressions=impressions,
        ctr=rate(len(clicked), impressions, confidence),
        rating_rate=rate(len(ratings), impressions, confidence),
        dislike_rate=rate(len(disliked), impressions, confidence),
        mean_rating=mean(ratings["value"].dropna().to_numpy(np.float64), confidence),
    )


def _grouped(
    column: str, answers: pd.DataFrame, events: pd.DataFrame, confidence: float
) -> list[EngagementRow]:
    by_group: dict[Hashable, pd.DataFrame] = dict(list(events.groupby(column)))
    return [
        _row(str(name), group, by_group.get(name, events.iloc[:0]), confidence)
        for name, group in answers.groupby(column, sort=True)
    ]


def _unix(moment: datetime | None) -> float | None:
    return None if moment is None else to_log_time(moment).replace(tzinfo=UTC).timestamp()


def _event_counts(
    conn: Connection, since: datetime | None, until: datetime | None
) -> tuple[int, int, int]:
    """Events created in the window: all, without a request id, with an unknown one."""
    event = feedback_events.c
    window: ColumnElement[bool] = true()
    if since is not None:
        window &= event.created_at >= _unix(since)
    if until is not None:
        window &= event.created_at < _unix(until)
    missing = event.request_id.is_(None)
    unknown = event.request_id.is_not(None) & ~event.request_known
    total, without, unknown_count = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((missing, 1), else_=0)), 0),
            func.coalesce(func.sum(case((unknown, 1), else_=0)), 0),
        ).where(window)
    ).one()
    return int(total), int(without), int(unknown_count)


def _path() -> ColumnElement[str]:
    """The answer's path: `personalised`, or the fallback's reason."""
    log = request_logs.c
    reason = func.coalesce(log.fallback_reason, "unspecified")
    return case((log.is_fallback, reason), else_=PERSONALISED)


def _read(
    conn: Connection, since: datetime | None, until: datetime | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Answers (requests and impressions per version and path) and events on shown movies."""
    log, event = request_logs.c, feedback_events.c
    answered = (log.endpoint == RECOMMEND) & in_window(since, until)
    version = func.coalesce(log.model_version, "unknown").label("model_version")
    path = _path().label("path")
    answers = query_frame(
        conn,
        select(
            version,
            path,
            func.count().label("requests"),
            func.coalesce(func.sum(answer_length(conn)), 0).label("impressions"),
        )
        .where(answered)
        .group_by(version, path),
    )
    items, _, movie_id = recommended_items(conn)
    events = query_frame(
        conn,
        select(
            event.event_id,
            event.request_id,
            event.movie_id,
            event.event,
            event.value,
            version,
            path,
        )
        .select_from(
            feedback_events.join(request_logs, cast(log.request_id, Text) == event.request_id).join(
                items, true()
            )
        )
        .where(answered, movie_id == event.movie_id),
    )
    return answers, events


def compute_engagement(
    database: Database,
    since: datetime | None = None,
    until: datetime | None = None,
    confidence: float = 0.95,
) -> EngagementReport:
    """Engagement KPIs of the /recommend answers logged in `database` within `[since, until)`
    (module docstring); a store without a log or without feedback gives empty groups."""
    answers = pd.DataFrame(columns=["model_version", "path", "requests", "impressions"])
    events = pd.DataFrame(
        columns=["event_id", "request_id", "movie_id", "event", "value", "model_version", "path"]
    )
    counts = (0, 0, 0)
    with open_log(database) as conn:
        if conn is not None and inspect(conn).has_table(feedback_events.name):
            answers, events = _read(conn, since, until)
            counts = _event_counts(conn, since, until)
    return EngagementReport(
        since=since,
        until=until,
        confidence=confidence,
        events_total=counts[0],
        events_without_request=counts[1],
        events_unknown_request=counts[2],
        overall=_row("all", answers, events, confidence) if len(answers) else None,
        by_version=_grouped("model_version", answers, events, confidence),
        by_path=_grouped("path", answers, events, confidence),
    )


def format_interval(value: Rate | Mean, pattern: str = "{:.1%}") -> str | None:
    """'10.1% to 14.9%' (with `pattern`), or None without an interval."""
    if value.low is None or value.high is None:
        return None
    return f"{pattern.format(value.low)} to {pattern.format(value.high)}"


def format_rate(value: Rate | Mean, pattern: str = "{:.1%}") -> str:
    """'12.3% (10.1% to 14.9%)', '4.12 (3.90 to 4.31)' with pattern '{:.2f}', or 'n/a'."""
    if value.value is None:
        return "n/a"
    interval = format_interval(value, pattern)
    shown = pattern.format(value.value)
    return f"{shown} ({interval})" if interval else shown


def render_engagement(report: EngagementReport, console: Console) -> None:
    """Print the engagement KPIs per model version and per fallback path."""
    level = f"{report.confidence:.0%}"
    for title, rows in (("model version", report.by_version), ("fallback path", report.by_path)):
        table = Table(title=f"Engagement per {title} ({level} intervals)")
        for column in (title, "answers", "impressions", "CTR", "rating rate", "mean rating"):
            table.add_column(column, justify="left" if column == title else "right")
        for row in rows:
            table.add_row(
                row.group,
                str(row.requests),
                str(row.impressions),
                format_rate(row.ctr),
                format_rate(row.rating_rate),
                format_rate(row.mean_rating, "{:.2f}"),
            )
        console.print(table)
    console.print(
        f"{report.events_total} feedback events in the window: "
        f"{report.events_without_request} without a request id, "
        f"{report.events_unknown_request} for a request id never served"
    )
    if report.overall is None:
        console.print(
            "[yellow]No /recommend answers logged in this window.[/] `movierec simulate` sends "
            "traffic and feedback."
        )
