"""Operational KPIs of the request log, and the alerts their thresholds raise.

Definitions (all over the requests logged in `since <= timestamp < until`):

- latency percentiles: per endpoint, numpy's default 'linear' method (`np.percentile`), i.e.
  the value at rank `q/100 * (n - 1)` of the sorted latencies, interpolated between neighbours;
- traffic: requests per endpoint per time bucket (`bucket` is a pandas offset such as `1min`;
  buckets without requests count 0), with that bucket's p50/p95/p99 latency;
- fallback rate: share of /recommend requests answered by the cold-start fallback, overall
  and per `fallback_reason` (the only personalised endpoint is the only one that falls back);
- coverage: distinct movie ids recommended by /recommend divided by the catalogue size;
- concentration: Gini coefficient of how often each catalogue item was recommended by
  /recommend, items never recommended counting 0 (0 = evenly spread, towards 1 = a few items);
- unique users: distinct non-null `user_id`; model versions: requests per `model_version`.

Alerts: a p50/p99 latency above its threshold on any endpoint, a fallback rate above its
threshold, coverage below `min_coverage`, Gini above `max_gini` (equality is no breach).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, true

from movierec.config import Thresholds
from movierec.endpoints import RECOMMEND
from movierec.monitoring.log_reader import (
    in_window,
    open_log,
    query_frame,
    recommended_items,
    to_log_time,
)
from movierec.store.database import Database
from movierec.store.tables import request_logs

HISTOGRAM_BINS = 30
# Candidate buckets for `auto_bucket`, finest first.
BUCKETS = ("1s", "5s", "10s", "30s", "1min", "5min", "15min", "1h", "6h", "1D")


class KpiError(ValueError):
    """The KPI request cannot be computed as asked (bad bucket, bad window)."""


class Alert(BaseModel):
    """A threshold breach: which KPI, where, its value and the threshold it crossed."""

    name: str
    scope: str
    value: float
    threshold: float
    message: str


class EndpointLatency(BaseModel):
    endpoint: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


class TrafficPoint(BaseModel):
    bucket: datetime
    endpoint: str
    requests: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class HistogramBin(BaseModel):
    endpoint: str
    low_ms: float
    high_ms: float
    count: int


class FallbackCount(BaseModel):
    """How many /recommend answers fell back for one `FallbackReason`, and their share."""

    reason: str
    count: int
    rate: float


class KpiReport(BaseModel):
    """Everything the KPI table, the JSON output and the dashboard show."""

    since: datetime | None
    until: datetime | None
    first_request: datetime | None
    last_request: datetime | None
    bucket: str
    requests_total: int
    requests_per_endpoint: dict[str, int]
    unique_users: int
    latency: list[EndpointLatency]
    traffic: list[TrafficPoint]
    latency_histogram: list[HistogramBin]
    recommend_requests: int
    fallback_requests: int
    fallback_rate: float | None
    fallback_reasons: list[FallbackCount]
    n_items: int | None
    distinct_recommended: int
    coverage: float | None
    gini: float | None
    lorenz: list[tuple[float, float]]
    model_versions: dict[str, int]
    alerts: list[Alert]


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts: sum_i (2i - n - 1) x_(i) / (n * sum x).

    x_(i) are the counts sorted ascending, i = 1..n. 0 when all are equal (or all zero).
    """
    values = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = values.size, values.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(((2 * ranks - n - 1) * values).sum() / (n * total))


def lorenz_curve(counts: np.ndarray, points: int = 21) -> list[tuple[float, float]]:
    """(share of items, share of recommendations they received), least recommended first."""
    values = np.sort(np.asarray(counts, dtype=np.float64))
    cumulative = np.concatenate([[0.0], np.cumsum(values)]) / max(values.sum(), 1.0)
    item_share = np.linspace(0.0, 1.0, points)
    positions = np.rint(item_share * values.size).astype(int)
    return [(float(x), float(y)) for x, y in zip(item_share, cumulative[positions], strict=True)]


def auto_bucket(span: pd.Timedelta, max_buckets: int = 90) -> str:
    """The finest bucket of `BUCKETS` that cuts `span` into at most `max_buckets` pieces."""
    for bucket in BUCKETS:
        if span / pd.Timedelta(bucket) <= max_buckets:
            return bucket
    return BUCKETS[-1]


def _check_bucket(bucket: str) -> None:
    try:
        pd.Timedelta(bucket)
    except ValueError as exc:
        raise KpiError(
            f"time bucket {bucket!r} is not a fixed pandas offset; use e.g. 10s, 1min, 1h, 1D"
        ) from exc


def _latency(frame: pd.DataFrame) -> list[EndpointLatency]:
    grouped = frame.groupby("endpoint")["latency_ms"]
    table = pd.DataFrame(
        {
            "requests": grouped.size(),
            "p50_ms": grouped.quantile(0.5),
            "p95_ms": grouped.quantile(0.95),
            "p99_ms": grouped.quantile(0.99),
            "mean_ms": grouped.mean(),
            "max_ms": grouped.max(),
        }
    ).reset_index()
    return [EndpointLatency.model_validate(row) for row in table.to_dict("records")]


def _traffic(frame: pd.DataFrame, bucket: str) -> list[TrafficPoint]:
    binned = frame.assign(bucket=frame["timestamp"].dt.floor(bucket))
    grouped = binned.groupby(["bucket", "endpoint"])["latency_ms"]
    stats = pd.DataFrame(
        {
            "requests": grouped.size(),
            "p50_ms": grouped.quantile(0.5),
            "p95_ms": grouped.quantile(0.95),
            "p99_ms": grouped.quantile(0.99),
        }
    )
    buckets = pd.date_range(binned["bucket"].min(), binned["bucket"].max(), freq=bucket)
    full = pd.MultiIndex.from_product(
        [buckets, sorted(frame["endpoint"].unique())], names=["bucket", "endpoint"]
    )
    stats = stats.reindex(full)
    stats["requests"] = stats["requests"].fillna(0).astype(int)
    stats = stats.astype(object).where(stats.notna(), None).reset_index()
    return [TrafficPoint.model_validate(row) for row in stats.to_dict("records")]


def _histogram(frame: pd.DataFrame) -> list[HistogramBin]:
    """Latency counts per endpoint over shared log-spaced bins (latencies are long-tailed)."""
    latencies = frame["latency_ms"].to_numpy(dtype=np.float64)
    low, high = max(float(latencies.min()), 1e-3), float(latencies.max())
    edges = np.geomspace(low, high, HISTOGRAM_BINS + 1) if high > low else np.array([low, low + 1])
    edges[0] = min(edges[0], float(latencies.min()))
    bins: list[HistogramBin] = []
    for endpoint, group in frame.groupby("endpoint"):
        counts, _ = np.histogram(group["latency_ms"].to_numpy(), bins=edges)
        bins.extend(
            HistogramBin(endpoint=str(endpoint), low_ms=lo, high_ms=hi, count=int(count))
            for lo, hi, count in zip(edges[:-1], edges[1:], counts, strict=True)
        )
    return bins


def _alerts(report: KpiReport, thresholds: Thresholds) -> list[Alert]:
    alerts: list[Alert] = []
    for row in report.latency:
        for name, value, limit in (
            ("p99_latency_ms", row.p99_ms, thresholds.p99_latency_ms),
            ("p50_latency_ms", row.p50_ms, thresholds.p50_latency_ms),
        ):
            if value > limit:
                label = name.split("_")[0]
                alerts.append(
                    Alert(
                        name=name,
                        scope=row.endpoint,
                        value=value,
                        threshold=limit,
                        message=f"{row.endpoint} {label} latency {value:.1f} ms "
                        f"is above the {limit:g} ms threshold",
                    )
                )
    if report.fallback_rate is not None and report.fallback_rate > thresholds.fallback_rate:
        alerts.append(
            Alert(
                name="fallback_rate",
                scope=RECOMMEND,
                value=report.fallback_rate,
                threshold=thresholds.fallback_rate,
                message=f"{report.fallback_rate:.1%} of /recommend requests fell back "
                f"(threshold {thresholds.fallback_rate:.0%})",
            )
        )
    if report.coverage is not None and report.coverage < thresholds.min_coverage:
        alerts.append(
            Alert(
                name="min_coverage",
                scope=RECOMMEND,
                value=report.coverage,
                threshold=thresholds.min_coverage,
                message=f"recommendations cover {report.coverage:.1%} of the catalogue "
                f"(minimum {thresholds.min_coverage:.0%})",
            )
        )
    if report.gini is not None and report.gini > thresholds.max_gini:
        alerts.append(
            Alert(
                name="max_gini",
                scope=RECOMMEND,
                value=report.gini,
                threshold=thresholds.max_gini,
                message=f"recommendations concentrate on few items: Gini {report.gini:.3f} "
                f"above {thresholds.max_gini:g}",
            )
        )
    return alerts


def compute_kpis(
    log_db: Database,
    since: datetime | None,
    until: datetime | None,
    n_items: int | None,
    thresholds: Thresholds,
    bucket: str,
) -> KpiReport:
    """KPIs of the requests logged in the store `log_db` within `[since, until)` (module
    docstring).

    `n_items` is the catalogue size (None: coverage and Gini are not computed). A missing or
    empty log gives a report with zero requests and no alerts.
    """
    _check_bucket(bucket)
    if since is not None and until is not None and to_log_time(since) >= to_log_time(until):
        raise KpiError(f"the window is empty: since {since} is not before until {until}")
    log, window = request_logs.c, in_window(since, until)
    with open_log(log_db) as conn:
        if conn is None:
            frame = pd.DataFrame(
                columns=["timestamp", "endpoint", "user_id", "model_version", "latency_ms"]
            )
            rec_counts = pd.Series(dtype=np.int64)
        else:
            frame = query_frame(
                conn,
                select(
                    log.timestamp,
                    log.endpoint,
                    log.user_id,
                    log.model_version,
                    log.latency_ms,
                    log.is_fallback,
                    log.fallback_reason,
                ).where(window),
                time_columns=("timestamp",),
            )
            items, _, movie_id = recommended_items(conn)
            rec_counts = query_frame(
                conn,
                select(movie_id.label("movie_id"), func.count().label("n"))
                .select_from(request_logs.join(items, true()))
                .where(log.endpoint == RECOMMEND, window)
                .group_by(movie_id),
            )["n"]
    recommend = frame[frame["endpoint"] == RECOMMEND] if len(frame) else frame
    n_recommend = len(recommend)
    n_fallback = int(recommend["is_fallback"].astype(bool).sum()) if n_recommend else 0
    reasons = (
        recommend.loc[recommend["is_fallback"].astype(bool), "fallback_reason"]
        .fillna("unspecified")
        .value_counts()
        if n_recommend
        else pd.Series(dtype=np.int64)
    )
    distinct = len(rec_counts)
    padding = max(0, (n_items or 0) - distinct)
    counts = np.concatenate([rec_counts.to_numpy(dtype=np.int64), np.zeros(padding, np.int64)])
    report = KpiReport(
        since=since,
        until=until,
        first_request=frame["timestamp"].min() if len(frame) else None,
        last_request=frame["timestamp"].max() if len(frame) else None,
        bucket=bucket,
        requests_total=len(frame),
        requests_per_endpoint={
            str(k): int(v) for k, v in frame["endpoint"].value_counts().sort_index().items()
        },
        unique_users=int(frame["user_id"].dropna().nunique()),
        latency=_latency(frame) if len(frame) else [],
        traffic=_traffic(frame, bucket) if len(frame) else [],
        latency_histogram=_histogram(frame) if len(frame) else [],
        recommend_requests=n_recommend,
        fallback_requests=n_fallback,
        fallback_rate=n_fallback / n_recommend if n_recommend else None,
        fallback_reasons=[
            FallbackCount(reason=str(reason), count=int(count), rate=int(count) / n_recommend)
            for reason, count in reasons.items()
        ],
        n_items=n_items,
        distinct_recommended=distinct,
        coverage=min(1.0, distinct / n_items) if n_items and n_recommend else None,
        gini=gini(counts) if n_items and n_recommend else None,
        lorenz=lorenz_curve(counts) if n_items and n_recommend else [],
        model_versions={
            str(k): int(v)
            for k, v in frame["model_version"].fillna("unknown").value_counts().items()
        },
        alerts=[],
    )
    report.alerts = _alerts(report, thresholds)
    return report


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def render_kpis(report: KpiReport, console: Console, max_buckets: int = 20) -> None:
    """Print the report as rich tables: summary, latency, traffic, fallbacks, versions, alerts."""
    window = f"{report.since or report.first_request or '-'} → {report.until or 'now'}"
    summary = Table(title="Request-log KPIs", caption=f"window {window}", show_header=False)
    summary.add_column("KPI", style="bold")
    summary.add_column("value", justify="right")
    for name, value in (
        ("requests", str(report.requests_total)),
        ("unique users", str(report.unique_users)),
        ("/recommend requests", str(report.recommend_requests)),
        ("fallback rate", _fmt(report.fallback_rate, "{:.1%}")),
        ("catalogue size", _fmt(report.n_items, "{:d}")),
        ("distinct items recommended", str(report.distinct_recommended)),
        ("coverage", _fmt(report.coverage, "{:.1%}")),
        ("Gini", _fmt(report.gini, "{:.3f}")),
    ):
        summary.add_row(name, value)
    console.print(summary)
    if report.requests_total == 0:
        console.print(
            "[yellow]No requests logged in this window.[/] Produce traffic with "
            "`movierec simulate` against a running API (`movierec serve`)."
        )
        return
    latency = Table(title="Latency per endpoint (ms)")
    for column in ("endpoint", "requests", "p50", "p95", "p99", "mean", "max"):
        latency.add_column(column, justify="left" if column == "endpoint" else "right")
    for row in report.latency:
        latency.add_row(
            row.endpoint,
            str(row.requests),
            *(f"{v:.2f}" for v in (row.p50_ms, row.p95_ms, row.p99_ms, row.mean_ms, row.max_ms)),
        )
    console.print(latency)
    pivot = (
        pd.DataFrame([point.model_dump() for point in report.traffic])
        .pivot(index="bucket", columns="endpoint", values="requests")
        .tail(max_buckets)
    )
    traffic = Table(title=f"Requests per {report.bucket} bucket (last {len(pivot)})")
    traffic.add_column("bucket (UTC)")
    for endpoint in pivot.columns:
        traffic.add_column(str(endpoint), justify="right")
    for bucket, counts in zip(pivot.index, pivot.to_numpy(dtype=int), strict=True):
        traffic.add_row(str(bucket), *(str(count) for count in counts))
    console.print(traffic)
    fallbacks = Table(title="Fallback reasons (/recommend)")
    for column in ("reason", "requests", "share"):
        fallbacks.add_column(column, justify="left" if column == "reason" else "right")
    for reason in report.fallback_reasons:
        fallbacks.add_row(reason.reason, str(reason.count), f"{reason.rate:.1%}")
    console.print(fallbacks)
    versions = Table(title="Model versions served")
    versions.add_column("version")
    versions.add_column("requests", justify="right")
    for version, count in report.model_versions.items():
        versions.add_row(version, str(count))
    console.print(versions)
    if report.alerts:
        for alert in report.alerts:
            console.print(f"[bold red]ALERT[/] {alert.name} ({alert.scope}): {alert.message}")
    else:
        console.print("[green]All KPIs within thresholds.[/]")
