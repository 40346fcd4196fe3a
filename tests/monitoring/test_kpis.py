"""KPIs of a hand-made request log against values computed by hand (see conftest.KNOWN_ROWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from movierec.config import Thresholds
from movierec.monitoring.kpis import KpiError, auto_bucket, compute_kpis, gini, lorenz_curve
from movierec.monitoring.log_reader import TimeParseError, parse_moment
from tests.monitoring.conftest import T0, at

LOOSE = Thresholds(
    p99_latency_ms=1000, p50_latency_ms=1000, fallback_rate=1, min_coverage=0, max_gini=1
)


def test_gini_hand_computed() -> None:
    # sorted [0, 0, 1, 3]: sum (2i - 5) x_i = 1*1 + 3*3 = 10, over n * sum = 4 * 4
    assert gini(np.array([3, 0, 1, 0])) == pytest.approx(0.625)
    assert gini(np.array([5, 5, 5])) == 0.0
    assert gini(np.array([0, 0, 0, 5])) == pytest.approx(0.75)  # maximum 1 - 1/n
    assert gini(np.array([0, 0])) == 0.0


def test_lorenz_curve_ends_and_shape() -> None:
    curve = lorenz_curve(np.array([0, 0, 0, 4]), points=5)
    assert curve == [(0.0, 0.0), (0.25, 0.0), (0.5, 0.0), (0.75, 0.0), (1.0, 1.0)]


def test_kpis_on_known_log(known_log: Path) -> None:
    report = compute_kpis(known_log, None, None, n_items=12, thresholds=LOOSE, bucket="1min")

    assert report.requests_total == 7
    assert report.requests_per_endpoint == {"/popular": 1, "/recommend": 5, "/similar": 1}
    assert report.unique_users == 4  # 1, 2, 999, 3
    assert report.model_versions == {"v2": 4, "v1": 3}
    assert report.first_request == at(0, 5) and report.last_request == at(2, 0)

    # /recommend latencies sorted [1, 2, 3, 4, 10]; linear rank q * (n - 1):
    # p50 -> rank 2 = 3; p95 -> rank 3.8 = 4 + 0.8 * 6 = 8.8; p99 -> rank 3.96 = 9.76.
    latency = {row.endpoint: row for row in report.latency}
    assert latency["/recommend"].p50_ms == pytest.approx(3.0)
    assert latency["/recommend"].p95_ms == pytest.approx(8.8)
    assert latency["/recommend"].p99_ms == pytest.approx(9.76)
    assert latency["/recommend"].mean_ms == pytest.approx(4.0)
    assert latency["/recommend"].max_ms == 10.0
    assert latency["/similar"].p99_ms == 5.0 and latency["/similar"].requests == 1
    assert latency["/recommend"].p95_ms == pytest.approx(np.percentile([1, 2, 3, 4, 10], 95))

    assert report.recommend_requests == 5 and report.fallback_requests == 2
    assert report.fallback_rate == pytest.approx(0.4)
    reasons = {r.reason: (r.count, r.rate) for r in report.fallback_reasons}
    assert reasons == {"unknown_user": (1, 0.2), "no_candidates": (1, 0.2)}

    # /recommend counts: item 1 x4, 2 x3, 3 x2, 4..9 x1 -> 9 distinct of 12 items.
    assert report.distinct_recommended == 9
    assert report.coverage == pytest.approx(0.75)
    # sorted [0,0,0,1,1,1,1,1,1,2,3,4]: sum (2i-13) x_i = 0 + 14 + 27 + 44 = 85; 85 / (12*15)
    assert report.gini == pytest.approx(85 / 180)
    assert report.alerts == []


def test_traffic_buckets_fill_empty_endpoints_with_zero(known_log: Path) -> None:
    report = compute_kpis(known_log, None, None, n_items=12, thresholds=LOOSE, bucket="1min")
    traffic = {(p.bucket, p.endpoint): p.requests for p in report.traffic}
    assert traffic == {
        (at(0, 0), "/popular"): 0,
        (at(0, 0), "/recommend"): 2,
        (at(0, 0), "/similar"): 1,
        (at(1, 0), "/popular"): 1,
        (at(1, 0), "/recommend"): 2,
        (at(1, 0), "/similar"): 0,
        (at(2, 0), "/popular"): 0,
        (at(2, 0), "/recommend"): 1,
        (at(2, 0), "/similar"): 0,
    }
    point = next(p for p in report.traffic if p.bucket == at(0, 0) and p.endpoint == "/recommend")
    assert point.p50_ms == pytest.approx(1.5)
    assert (point.p95_ms, point.p99_ms) == pytest.approx((1.95, 1.99))  # latencies 1.0 and 2.0
    empty = next(p for p in report.traffic if p.bucket == at(0, 0) and p.endpoint == "/popular")
    assert empty.p50_ms is None and empty.p95_ms is None
    assert sum(b.count for b in report.latency_histogram) == 7


def test_window_is_half_open_and_timezone_aware(known_log: Path) -> None:
    since = datetime(2024, 5, 1, 14, 1, tzinfo=UTC) + timedelta(hours=-2)
    report = compute_kpis(known_log, since, at(2, 0), n_items=12, thresholds=LOOSE, bucket="1min")
    assert report.requests_total == 3  # 12:01:10, 12:01:20, 12:01:40; 12:02:00 excluded
    assert report.fallback_rate == pytest.approx(0.5)
    assert report.distinct_recommended == 5  # [1,5,6] + [1,2,3]
    assert report.coverage == pytest.approx(5 / 12)


@pytest.mark.parametrize(
    ("field", "at_value", "breached", "scopes"),
    [
        ("p99_latency_ms", 9.76, 9.75, {"/recommend"}),
        ("p50_latency_ms", 5.0, 4.99, {"/similar"}),
        ("fallback_rate", 0.4, 0.39, {"/recommend"}),
        ("min_coverage", 0.75, 0.76, {"/recommend"}),
        ("max_gini", 85 / 180 + 1e-9, 0.47, {"/recommend"}),
    ],
)
def test_alert_fires_exactly_when_threshold_is_breached(
    known_log: Path, field: str, at_value: float, breached: float, scopes: set[str]
) -> None:
    def alerts(value: float) -> list[tuple[str, str]]:
        thresholds = LOOSE.model_copy(update={field: value})
        report = compute_kpis(known_log, None, None, 12, thresholds, "1min")
        return [(alert.name, alert.scope) for alert in report.alerts]

    assert alerts(at_value) == []
    assert sorted(alerts(breached)) == sorted((field, scope) for scope in scopes)


def test_missing_and_empty_logs_give_an_empty_report(tmp_path: Path) -> None:
    from tests.monitoring.log_rows import write_log

    for path in (tmp_path / "missing.db", write_log(tmp_path / "empty.db", [])):
        report = compute_kpis(path, None, None, 12, Thresholds(), "1min")
        assert report.requests_total == 0
        assert report.fallback_rate is None and report.coverage is None
        assert report.alerts == [] and report.traffic == []


def test_bad_bucket_and_window_are_named(known_log: Path) -> None:
    with pytest.raises(KpiError, match="not a fixed pandas offset"):
        compute_kpis(known_log, None, None, 12, LOOSE, "1 fortnight")
    with pytest.raises(KpiError, match="window is empty"):
        compute_kpis(known_log, at(2, 0), at(1, 0), 12, LOOSE, "1min")


def test_parse_moment_and_auto_bucket() -> None:
    assert parse_moment("15m", T0) == T0 - timedelta(minutes=15)
    assert parse_moment("7d", T0) == T0 - timedelta(days=7)
    assert parse_moment("2024-05-01T10:00", T0) == datetime(2024, 5, 1, 10, 0)
    with pytest.raises(TimeParseError, match="15m"):
        parse_moment("yesterday", T0)
    assert auto_bucket(pd.Timedelta("15min")) == "10s"
    assert auto_bucket(pd.Timedelta("7D")) == "6h"
