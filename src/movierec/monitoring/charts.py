"""Altair charts of the KPI and replay reports, one function per dashboard panel.

Every chart takes the already aggregated report (a few hundred rows at most), so the browser
never receives raw log rows. Endpoints keep one colour across all panels.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from movierec.endpoints import RANKED
from movierec.monitoring.engagement import EngagementRow
from movierec.monitoring.kpis import KpiReport
from movierec.monitoring.replay_eval import ReplayReport

ENDPOINTS = list(RANKED)
PALETTE = ["#4C78A8", "#F58518", "#54A24B"]
PERCENTILES = ("p50", "p95", "p99")
PERCENTILE_COLOURS = ["#9ECAE9", "#4C78A8", "#E45756"]  # p99, the alerting one, in red
HEIGHT = 260


def _endpoint_colour(title: str = "endpoint") -> alt.Color:
    return alt.Color(
        "endpoint:N",
        title=title,
        scale=alt.Scale(domain=ENDPOINTS, range=PALETTE),
        legend=alt.Legend(orient="top", labelLimit=0),
    )


def _time_axis(report: KpiReport) -> alt.X:
    """The bucket axis; ticks at least one bucket apart, labelled to the second when the
    report spans less than a day (Vega's default labels sub-second ticks as ".500")."""
    step_ms = pd.Timedelta(report.bucket).total_seconds() * 1000
    span = (
        report.last_request - report.first_request
        if report.first_request is not None and report.last_request is not None
        else None
    )
    short = span is not None and span < pd.Timedelta(days=1)
    axis = alt.Axis(format="%H:%M:%S", tickMinStep=step_ms) if short else alt.Axis()
    return alt.X("bucket:T", title="time (UTC)", axis=axis)


def traffic_chart(report: KpiReport) -> alt.Chart:
    """Requests per time bucket, stacked by endpoint."""
    frame = pd.DataFrame([point.model_dump() for point in report.traffic])
    return (
        alt.Chart(frame, height=HEIGHT)
        .mark_area(opacity=0.85, interpolate="monotone")
        .encode(
            x=_time_axis(report),
            y=alt.Y("requests:Q", title=f"requests per {report.bucket}", stack="zero"),
            color=_endpoint_colour(),
            tooltip=[
                alt.Tooltip("bucket:T", title="bucket", format="%H:%M:%S"),
                "endpoint:N",
                "requests:Q",
            ],
        )
    )


def latency_chart(report: KpiReport) -> alt.Chart:
    """p50, p95 and p99 latency per bucket on a log scale, one line per percentile, for the
    endpoint picked in the chart's own select box (/recommend first)."""
    frame = pd.DataFrame([point.model_dump() for point in report.traffic])
    long = frame.melt(
        id_vars=["bucket", "endpoint"],
        value_vars=[f"{name}_ms" for name in PERCENTILES],
        var_name="percentile",
        value_name="latency_ms",
    )  # empty buckets stay null so that lines break over gaps in traffic
    long["percentile"] = long["percentile"].str.removesuffix("_ms")
    served = set(long["endpoint"])
    options = [e for e in ENDPOINTS if e in served] + sorted(served - set(ENDPOINTS))
    endpoint = alt.param(
        name="endpoint",
        value=options[0],
        bind=alt.binding_select(options=options, name="endpoint "),
    )
    return (
        alt.Chart(long, height=HEIGHT)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=_time_axis(report),
            y=alt.Y("latency_ms:Q", title="latency (ms, log scale)", scale=alt.Scale(type="log")),
            color=alt.Color(
                "percentile:N",
                title="percentile",
                scale=alt.Scale(domain=list(PERCENTILES), range=PERCENTILE_COLOURS),
                legend=alt.Legend(orient="top", labelLimit=0),
            ),
            tooltip=[
                alt.Tooltip("bucket:T", title="bucket", format="%H:%M:%S"),
                "endpoint:N",
                "percentile:N",
                alt.Tooltip("latency_ms:Q", title="latency (ms)", format=".2f"),
            ],
        )
        .add_params(endpoint)
        .transform_filter(alt.datum.endpoint == endpoint)
    )


def histogram_chart(report: KpiReport) -> alt.Chart:
    """How latencies spread, stacked by endpoint, on log-spaced bins."""
    frame = pd.DataFrame([b.model_dump() for b in report.latency_histogram])
    frame["order"] = frame["endpoint"].map({e: i for i, e in enumerate(ENDPOINTS)})
    frame = frame.sort_values(["low_ms", "order"])
    frame["top"] = frame.groupby("low_ms")["count"].cumsum()
    frame["bottom"] = frame["top"] - frame["count"]
    return (
        alt.Chart(frame[frame["count"] > 0], height=HEIGHT)
        .mark_rect(opacity=0.9, stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("low_ms:Q", title="latency (ms, log scale)", scale=alt.Scale(type="log")),
            x2="high_ms:Q",
            y=alt.Y("top:Q", title="requests"),
            y2="bottom:Q",
            color=_endpoint_colour(),
            tooltip=[
                "endpoint:N",
                alt.Tooltip("low_ms:Q", title="from (ms)", format=".2f"),
                alt.Tooltip("high_ms:Q", title="to (ms)", format=".2f"),
                alt.Tooltip("count:Q", title="requests"),
            ],
        )
    )


def fallback_chart(report: KpiReport) -> alt.Chart:
    """Share of /recommend requests per answer path: personalised or each fallback reason."""
    personalised = report.recommend_requests - report.fallback_requests
    rows = [("personalised", personalised)] + [(r.reason, r.count) for r in report.fallback_reasons]
    frame = pd.DataFrame(rows, columns=["path", "requests"])
    frame["share"] = frame["requests"] / max(report.recommend_requests, 1)
    return (
        alt.Chart(frame, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("share:Q", title="share of /recommend requests", axis=alt.Axis(format="%")),
            y=alt.Y("path:N", title=None, sort="-x", axis=alt.Axis(labelLimit=0)),
            color=alt.condition(
                alt.datum.path == "personalised", alt.value(PALETTE[0]), alt.value("#E45756")
            ),
            tooltip=["path:N", "requests:Q", alt.Tooltip("share:Q", format=".1%")],
        )
    )


def lorenz_chart(report: KpiReport) -> alt.Chart:
    """Lorenz curve of recommendation counts over the catalogue, against perfect equality."""
    frame = pd.DataFrame(report.lorenz, columns=["items", "recommendations"])
    axis = alt.Axis(format="%")
    curve = (
        alt.Chart(frame, height=HEIGHT)
        .mark_area(line=True, opacity=0.35, color=PALETTE[0])
        .encode(
            x=alt.X("items:Q", title="share of catalogue (least recommended first)", axis=axis),
            y=alt.Y("recommendations:Q", title="share of recommendations", axis=axis),
            tooltip=[
                alt.Tooltip("items:Q", format=".0%"),
                alt.Tooltip("recommendations:Q", format=".1%"),
            ],
        )
    )
    equality = (
        alt.Chart(pd.DataFrame({"items": [0.0, 1.0], "recommendations": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="grey")
        .encode(x="items:Q", y="recommendations:Q")
    )
    return curve + equality


def versions_chart(report: KpiReport) -> alt.Chart:
    """Requests served per model version."""
    frame = pd.DataFrame(list(report.model_versions.items()), columns=["version", "requests"])
    return (
        alt.Chart(frame, height=50 * len(frame) + 50)
        .mark_bar(color=PALETTE[0], size=28)
        .encode(
            x=alt.X("requests:Q", title="requests"),
            y=alt.Y("version:N", title=None, sort="-x", axis=alt.Axis(labelLimit=0)),
            tooltip=["version:N", "requests:Q"],
        )
    )


def replay_chart(report: ReplayReport) -> alt.Chart:
    """Online precision@k, hit rate@k and CTR per version; offline values as black ticks."""
    k = report.k
    rows = []
    for row in report.versions:
        for metric, online, offline in (
            (f"precision@{k}", row.precision_at_k, row.offline_precision_at_k),
            (f"hit rate@{k}", row.hit_rate_at_k, row.offline_hit_rate_at_k),
            ("CTR", row.ctr, None),
        ):
            rows.append((row.model_version, metric, online, offline))
    frame = pd.DataFrame(rows, columns=["version", "metric", "online", "offline"])
    base = alt.Chart(frame, height=HEIGHT).encode(
        x=alt.X("metric:N", title=None, sort=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("version:N"),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("online:Q", title="online value (replay)", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(
            "version:N", title="model version", legend=alt.Legend(orient="top", labelLimit=0)
        ),
        tooltip=[
            "version:N",
            "metric:N",
            alt.Tooltip("online:Q", format=".4f"),
            alt.Tooltip("offline:Q", format=".4f"),
        ],
    )
    ticks = base.mark_tick(color="black", thickness=2).encode(y="offline:Q")
    return bars + ticks


ENGAGEMENT_RATES = ("CTR", "rating rate", "dislike rate")
ENGAGEMENT_COLOURS = ["#4C78A8", "#54A24B", "#E45756"]


def engagement_chart(rows: list[EngagementRow], title: str, confidence: float) -> alt.LayerChart:
    """CTR, rating rate and dislike rate per group (model version or fallback path): one line
    per group and rate, a point at the rate and a bar across its interval."""
    records = [
        (f"{row.group} · {name}", row.group, name, rate.value, rate.low, rate.high, rate.count)
        for row in rows
        for name, rate in zip(
            ENGAGEMENT_RATES, (row.ctr, row.rating_rate, row.dislike_rate), strict=True
        )
        if rate.value is not None
    ]
    columns = ["line", "group", "rate", "value", "low", "high", "events"]
    frame = pd.DataFrame(records, columns=columns)
    base = alt.Chart(frame).encode(
        y=alt.Y("line:N", title=title, sort=None, axis=alt.Axis(labelLimit=0)),
        color=alt.Color(
            "rate:N",
            title=None,
            sort=list(ENGAGEMENT_RATES),
            scale=alt.Scale(domain=list(ENGAGEMENT_RATES), range=ENGAGEMENT_COLOURS),
            legend=alt.Legend(orient="top"),
        ),
        tooltip=[
            "group:N",
            "rate:N",
            alt.Tooltip("value:Q", format=".2%"),
            alt.Tooltip("low:Q", title="interval from", format=".2%"),
            alt.Tooltip("high:Q", title="interval to", format=".2%"),
            alt.Tooltip("events:Q", title="movies"),
        ],
    )
    axis = alt.Axis(format="%")
    x_title = f"share of impressions ({confidence:.0%} interval)"
    intervals = base.mark_rule(strokeWidth=4, opacity=0.45).encode(
        x=alt.X("low:Q", title=x_title, axis=axis), x2="high:Q"
    )
    points = base.mark_point(filled=True, size=80, opacity=1).encode(x=alt.X("value:Q", axis=axis))
    return (intervals + points).properties(height=alt.Step(26))
