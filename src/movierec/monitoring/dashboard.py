"""Monitoring dashboard (Streamlit, port 8501): is the recommender healthy, and is it any good?

Run with `movierec dashboard` (or `make dashboard`). It reads the request log named by the
settings (`store.url`, else the SQLite file `monitoring.log_db`; env `MOVIEREC_STORE__URL`,
`MOVIEREC_MONITORING__LOG_DB`), the production bundle for the catalogue size and offline
metrics, and the held-out split for the replay evaluation.
Streamlit executes this file as `__main__` (both `streamlit run` and `AppTest.from_file`), so
the page is built by `main()` under the usual guard and importing the module does nothing.

The KPI and replay reports are cached across sessions and reruns for a short while, keyed on
the files they read (size and modification time of the log, its write-ahead log, the bundle
and the split): a write to any of them is a new key, so a cached report is never stale. A
window starts on a bucket boundary, so that its reruns share a key too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from movierec.artifacts import ITEM_MAPPING, METRICS, MODEL_METADATA
from movierec.config import Settings, Thresholds, load_settings
from movierec.data.preprocess import PART_FILES
from movierec.monitoring import charts
from movierec.monitoring.bundle_info import catalogue_size
from movierec.monitoring.engagement import (
    EngagementReport,
    Mean,
    Rate,
    compute_engagement,
    format_interval,
    format_rate,
)
from movierec.monitoring.kpis import RECOMMEND, KpiReport, auto_bucket, compute_kpis
from movierec.monitoring.log_reader import time_span
from movierec.monitoring.replay_eval import ReplayError, ReplayReport, replay_evaluate
from movierec.store.database import Database, StoreError, describe

WINDOWS: dict[str, timedelta | None] = {
    "Last 15 minutes": timedelta(minutes=15),
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "All time": None,
}
AUTO_REFRESH_S = 10
CACHE_TTL_S = 60
KPI_CARDS_PER_ROW = 3  # wide enough for "1,234,567" or "123.4 ms" at any window width
FileVersions = tuple[tuple[int, int], ...]
REPLAY_NOTES = """
**{evaluated}** of {logged} logged /recommend answers come from **{users}** held-out users.

- **precision@{k}**: share of the first {k} recommended movies the user watched later;
- **hit rate@{k}**: share of answers with at least one such movie;
- **CTR**: clicks / impressions over all answers. A click is a real one (a click or watch
  event naming the answer) for a version whose answers got feedback ("clicks from:
  feedback"), otherwise a shown movie the user watched in the test period ("held-out").

Black ticks mark the offline values of the production version (**{version}**) from its
training evaluation, when the bundle records them.
"""
LATENCY_COLUMNS = ("p50", "p95", "p99", "max")
MS_COLUMNS = {name: st.column_config.NumberColumn(format="%.2f") for name in LATENCY_COLUMNS}
NO_TRAFFIC = """
**No requests logged {where}.** The dashboard fills up as the API serves requests:

1. start the API: `movierec serve` (or `make serve`);
2. send it realistic traffic: `movierec simulate` (or `make simulate`), which replays
   held-out users, unknown ids, `/similar` and `/popular` calls for 30 seconds.

Request log: `{log_db}`
"""


def log_database(settings: Settings) -> Database:
    """Where the request log is read: `store.url`, or the SQLite file `monitoring.log_db`."""
    return settings.store.url or settings.monitoring.log_db


def _fmt(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def file_versions(*paths: Path) -> FileVersions:
    """(modification time in ns, size) of each file, (0, 0) for a missing one."""
    versions = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            versions.append((0, 0))
        else:
            versions.append((stat.st_mtime_ns, stat.st_size))
    return tuple(versions)


def log_files(log_db: Database) -> tuple[Path, ...]:
    """The request log and its write-ahead log, where SQLite keeps the latest writes; none for
    a database server, whose reads are then cached for `CACHE_TTL_S` alone."""
    if isinstance(log_db, Path):
        return log_db, log_db.with_name(f"{log_db.name}-wal")
    return ()


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def cached_kpis(
    log_db: Database,
    since: datetime | None,
    model_dir: Path,
    thresholds: Thresholds,
    bucket: str,
    versions: FileVersions,
) -> KpiReport:
    """`compute_kpis` over the window from `since`; `versions` is only the cache key."""
    return compute_kpis(log_db, since, None, catalogue_size(model_dir), thresholds, bucket)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def cached_replay(
    log_db: Database,
    test_path: Path,
    k: int,
    model_dir: Path,
    since: datetime | None,
    versions: FileVersions,
) -> ReplayReport:
    """`replay_evaluate` over the window from `since`; `versions` is only the cache key."""
    return replay_evaluate(log_db, test_path, k, model_dir, since=since)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def cached_engagement(
    log_db: Database, since: datetime | None, versions: FileVersions
) -> EngagementReport:
    """`compute_engagement` over the window from `since`; `versions` is only the cache key."""
    return compute_engagement(log_db, since)


def engagement_table(report: EngagementReport) -> pd.DataFrame:
    """One row per model version: answers, impressions and each KPI with its interval."""
    return pd.DataFrame(
        {
            "model version": row.group,
            "answers": row.requests,
            "impressions": row.impressions,
            "CTR": format_rate(row.ctr),
            "rating rate": format_rate(row.rating_rate),
            "dislike rate": format_rate(row.dislike_rate),
            "mean rating": format_rate(row.mean_rating, "{:.2f}"),
            "ratings": row.mean_rating.count,
        }
        for row in report.by_version
    ).set_index("model version")


def engagement_panel(log_db: Database, since: datetime | None) -> None:
    """What people did with the recommendations: CTR, ratings, dislikes, with intervals."""
    st.subheader("Engagement · clicks and ratings on the recommendations", anchor=False)
    report = cached_engagement(log_db, since, file_versions(*log_files(log_db)))
    overall = report.overall
    if overall is None or report.events_total == 0:
        st.info(
            "No feedback on the recommendations in this window yet. It arrives through "
            "`POST /feedback` (the frontend's ratings) and `movierec simulate`, which clicks "
            "and rates like people do.",
            icon=":material/info:",
        )
        return
    level = f"{report.confidence:.0%}"
    st.caption(
        f"Feedback events joined by request id to the /recommend answer that showed the movie; "
        f"{level} intervals (Wilson for rates, Student-t for the mean rating). "
        f"{report.events_total:,} events in the window, {report.events_without_request:,} "
        f"without a request id, {report.events_unknown_request:,} naming an unknown one."
    )
    cards: tuple[tuple[str, Rate | Mean, str, str], ...] = (
        ("CTR", overall.ctr, "{:.1%}", "clicks or watches per movie shown"),
        ("Rating rate", overall.rating_rate, "{:.1%}", "ratings per movie shown"),
        ("Dislike rate", overall.dislike_rate, "{:.1%}", "dislikes per movie shown"),
        ("Mean rating", overall.mean_rating, "{:.2f}", "of the shown movies rated (0.5 to 5)"),
    )
    columns = st.columns(len(cards))
    for column, (label, value, pattern, help_text) in zip(columns, cards, strict=True):
        interval = format_interval(value, pattern) or "n/a"
        column.metric(
            label,
            _fmt(value.value, pattern),
            help=f"{help_text}; {level} interval {interval}",
            border=True,
        )
    st.dataframe(engagement_table(report))
    left, right = st.columns(2, gap="large")
    for column, rows, title in (
        (left, report.by_version, "model version"),
        (right, report.by_path, "answer path"),
    ):
        column.altair_chart(
            charts.engagement_chart(rows, title, report.confidence), width="stretch"
        )


def kpi_cards(report: KpiReport) -> None:
    """The headline numbers, in rows of `KPI_CARDS_PER_ROW` cards."""
    latency = {row.endpoint: row for row in report.latency}.get(RECOMMEND)
    p50 = latency.p50_ms if latency is not None else None
    p99 = latency.p99_ms if latency is not None else None
    cards = (
        ("Requests", f"{report.requests_total:,}", None),
        ("Unique users", f"{report.unique_users:,}", None),
        ("p50 latency", _fmt(p50, "{:.1f} ms"), "median server-side time of /recommend"),
        ("p99 latency", _fmt(p99, "{:.1f} ms"), "99th percentile of /recommend"),
        (
            "Fallback rate",
            _fmt(report.fallback_rate, "{:.1%}"),
            f"{report.fallback_requests} of {report.recommend_requests} /recommend requests",
        ),
        (
            "Coverage",
            _fmt(report.coverage, "{:.1%}"),
            f"{report.distinct_recommended} of {report.n_items or 'n/a'} movies recommended",
        ),
    )
    for start in range(0, len(cards), KPI_CARDS_PER_ROW):
        row = cards[start : start + KPI_CARDS_PER_ROW]
        for column, (label, value, help_text) in zip(st.columns(len(row)), row, strict=True):
            column.metric(label, value, help=help_text, border=True)


def alerts_panel(report: KpiReport) -> None:
    """One red box per breached threshold, or a green line when all are met."""
    for alert in report.alerts:
        st.error(f"**{alert.name}** ({alert.scope}): {alert.message}", icon=":material/error:")
    if not report.alerts:
        st.success("All KPIs within their thresholds.", icon=":material/check_circle:")


def latency_table(report: KpiReport) -> pd.DataFrame:
    frame = pd.DataFrame([row.model_dump() for row in report.latency])
    columns = {"endpoint": "endpoint", "requests": "requests"}
    columns |= {f"{name}_ms": name for name in LATENCY_COLUMNS}
    return frame[list(columns)].rename(columns=columns).set_index("endpoint")


def replay_table(report: ReplayReport) -> pd.DataFrame:
    k = report.k
    frame = pd.DataFrame([row.model_dump() for row in report.versions])
    columns = {
        "model_version": "model version",
        "requests": "requests",
        "users": "users",
        "precision_at_k": f"precision@{k}",
        "offline_precision_at_k": f"offline precision@{k}",
        "hit_rate_at_k": f"hit rate@{k}",
        "offline_hit_rate_at_k": f"offline hit rate@{k}",
        "ctr": "CTR",
        "clicks": "clicks",
        "impressions": "impressions",
        "clicks_source": "clicks from",
    }
    return frame[list(columns)].rename(columns=columns).set_index("model version")


def replay_panel(settings: Settings, since: datetime | None) -> None:
    """Replay evaluation of the logged answers against the held-out split."""
    k = settings.monitoring.replay_k
    st.subheader(f"Replay evaluation · precision, hit rate and CTR at {k}", anchor=False)
    st.caption(
        "Logged /recommend answers of held-out users, scored against what those users watched "
        "in the test period; offline values are the production model's evaluation."
    )
    log_db, model_dir = log_database(settings), settings.serving.model_dir
    test_path = settings.data.processed_dir / PART_FILES["test"]
    read = (*log_files(log_db), test_path, model_dir / MODEL_METADATA, model_dir / METRICS)
    try:
        report = cached_replay(log_db, test_path, k, model_dir, since, file_versions(*read))
    except ReplayError as exc:
        st.info(f"Replay evaluation unavailable: {exc}")
        return
    if not report.versions:
        st.info(
            "No logged /recommend answer belongs to a held-out user yet: `movierec simulate` "
            "replays held-out users."
        )
        return
    table = replay_table(report)
    st.dataframe(
        table,
        column_config={
            "impressions": st.column_config.NumberColumn(help="recommended items shown"),
            "clicks": st.column_config.NumberColumn(
                help="shown items clicked (feedback) or watched in the test split (held-out)"
            ),
            **{
                name: st.column_config.NumberColumn(format="%.4f")
                for name in table.columns
                if "@" in name or name == "CTR"
            },
        },
    )
    left, right = st.columns(2, gap="large")
    left.altair_chart(charts.replay_chart(report))
    right.markdown(
        REPLAY_NOTES.format(
            k=k,
            evaluated=report.requests_evaluated,
            logged=report.recommend_requests,
            users=report.users_evaluated,
            version=report.production_version or "n/a",
        )
    )


def report_body(settings: Settings, window: str) -> None:
    """Everything below the title, for the chosen window."""
    log_db, model_dir = log_database(settings), settings.serving.model_dir
    try:
        span = time_span(log_db)
    except StoreError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    length = WINDOWS[window]
    now = datetime.now(UTC).replace(tzinfo=None)
    if span is None or (length is not None and span[1] < now - length):
        where = "yet" if span is None else f"in the {window.lower()}"
        st.info(NO_TRAFFIC.format(where=where, log_db=describe(log_db)), icon=":material/info:")
        return
    bucket = auto_bucket(pd.Timedelta(length or max(span[1] - span[0], timedelta(seconds=1))))
    since = pd.Timestamp(now - length).floor(bucket).to_pydatetime() if length else None
    read = file_versions(*log_files(log_db), model_dir / ITEM_MAPPING)
    report = cached_kpis(log_db, since, model_dir, settings.monitoring.thresholds, bucket, read)
    versions = ", ".join(report.model_versions)
    st.caption(
        f"{window}: {report.first_request:%Y-%m-%d %H:%M:%S} → "
        f"{report.last_request:%Y-%m-%d %H:%M:%S} UTC · model versions served: {versions} · "
        f"refreshed {now:%H:%M:%S} UTC"
    )
    alerts_panel(report)
    kpi_cards(report)

    left, right = st.columns(2, gap="large")
    left.subheader("Traffic", anchor=False)
    left.altair_chart(charts.traffic_chart(report))
    right.subheader("Latency over time", anchor=False)
    right.altair_chart(charts.latency_chart(report))

    left, right = st.columns(2, gap="large")
    left.subheader("Latency distribution", anchor=False)
    left.altair_chart(charts.histogram_chart(report))
    right.subheader("Latency per endpoint (ms)", anchor=False)
    right.dataframe(latency_table(report), column_config=MS_COLUMNS, width="stretch")
    right.subheader("Model versions served", anchor=False)
    right.altair_chart(charts.versions_chart(report))

    left, right = st.columns(2, gap="large")
    left.subheader("Fallbacks", anchor=False)
    if report.recommend_requests:
        left.caption("How /recommend requests were answered: personalised or a fallback path.")
        left.altair_chart(charts.fallback_chart(report))
    else:
        left.info("No /recommend requests in this window.")
    right.subheader("Catalogue coverage and concentration", anchor=False)
    if report.lorenz:
        cov, gini_col, distinct = right.columns(3)
        cov.metric("Coverage", _fmt(report.coverage, "{:.1%}"))
        gini_col.metric("Gini", _fmt(report.gini, "{:.3f}"), help="0 = even, 1 = one item")
        distinct.metric("Movies recommended", f"{report.distinct_recommended:,}")
        right.altair_chart(charts.lorenz_chart(report))
    else:
        right.info("Coverage needs /recommend traffic and a production bundle (catalogue size).")

    engagement_panel(log_db, since)
    replay_panel(settings, since)


def retraining_status(status_file: Path) -> None:
    """The last `movierec retrain` run (the retrainer's status file): a failure in red."""
    st.subheader("Retraining", anchor=False)
    try:
        run = json.loads(status_file.read_text())
    except (OSError, ValueError):
        st.caption("No retraining run yet (`movierec retrain`, or the retrainer service).")
        return
    when = datetime.fromtimestamp(run["finished_at"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    said = f"Last run {when}, {run['seconds']:.0f} s, {run['new_events']} new events: "
    if run["result"] == "failed":
        st.error(f"{said}failed, production untouched. {run['error']}", icon=":material/error:")
    elif run["result"] == "challenger":
        st.success(f"{said}version {run['model_version']} is the challenger. {run['gate_reason']}")
    else:
        st.warning(f"{said}version {run['model_version']} refused. {run['gate_reason']}")


def promotion_decision(promotion_file: Path) -> None:
    """The retrainer's last automatic promotion decision on the challenger, if any."""
    try:
        decision = json.loads(promotion_file.read_text())
    except (OSError, ValueError):
        return
    when = datetime.fromtimestamp(decision["time"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    version = f"version {decision['version']}" if decision["version"] else "the challenger"
    said = f"Promotion decision {when}: {version} {decision['decision']}. {decision['reason']}"
    if decision["decision"] == "promoted":
        st.success(said)
    elif decision["decision"] == "waiting":
        st.caption(said)
    else:
        st.warning(said)


def main() -> None:
    """Build the page: sidebar controls, then the report (optionally refreshed every 10 s)."""
    st.set_page_config(
        page_title="movierec · monitoring", page_icon=":material/monitoring:", layout="wide"
    )
    settings = load_settings()
    st.title("movierec · service health", anchor=False)
    with st.sidebar:
        st.header("Controls")
        window = st.radio("Time window", list(WINDOWS), index=len(WINDOWS) - 1)
        st.button("↻ Refresh now", width="stretch")
        auto = st.toggle(f"Auto-refresh every {AUTO_REFRESH_S} s", value=False)
        st.divider()
        thresholds = settings.monitoring.thresholds
        st.caption(
            "**Alert thresholds** (configs/monitoring.yaml)  \n"
            f"p50 ≤ {thresholds.p50_latency_ms:g} ms · p99 ≤ {thresholds.p99_latency_ms:g} ms  \n"
            f"fallback rate ≤ {thresholds.fallback_rate:.0%}  \n"
            f"coverage ≥ {thresholds.min_coverage:.0%} · Gini ≤ {thresholds.max_gini:g}"
        )
        st.caption(f"Request log: `{describe(log_database(settings))}`")
        retraining_status(settings.retrain.status_file)
        promotion_decision(settings.retrain.promotion_file)
    body = st.fragment(report_body, run_every=AUTO_REFRESH_S if auto else None)
    body(settings, str(window))


if __name__ == "__main__":
    main()
