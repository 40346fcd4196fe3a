"""Engagement KPIs of hand-made feedback on the hand-made log, against values computed by hand.

The /recommend answers of `KNOWN_ROWS`: r0 user 1 [1,2,3] v1, r2 user 2 [1,2,4] v1,
r3 user 2 [1,5,6] v2, r4 user 999 [1,2,3] v2 (unknown_user), r6 user 3 [7,8,9] v2
(no_candidates): impressions v1 6, v2 9; personalised 9, unknown_user 3, no_candidates 3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.console import Console

from movierec.monitoring.engagement import (
    compute_engagement,
    mean_interval,
    proportion_interval,
    render_engagement,
)
from movierec.store.database import Database
from tests.monitoring.conftest import KNOWN_EVENTS, KNOWN_ROWS, at
from tests.monitoring.log_rows import write_feedback

Z95 = 1.959964  # the standard normal's 97.5% quantile


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval, by its formula."""
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2))
    return centre - half, centre + half


def test_wilson_interval_hand_computed() -> None:
    # 8 of 10: centre (0.8 + 0.19207) / 1.38415 = 0.71674, half 1.41600 * 0.16001 = 0.22658
    assert proportion_interval(8, 10) == pytest.approx((0.49016, 0.94332), abs=1e-5)
    assert wilson(8, 10) == pytest.approx((0.49016, 0.94332), abs=1e-5)
    assert proportion_interval(0, 20) == pytest.approx(wilson(0, 20), abs=1e-6)
    assert proportion_interval(3, 3, confidence=0.9)[1] == pytest.approx(1.0)


def test_mean_interval_hand_computed() -> None:
    # [3, 4, 5, 4]: mean 4, sd 0.8165, sem 0.40825; t(0.975, 3) = 3.182446 -> 4 -/+ 1.29923
    assert mean_interval(np.array([3.0, 4.0, 5.0, 4.0])) == pytest.approx((2.70077, 5.0), abs=1e-5)
    assert mean_interval(np.array([2.0, 2.5, 1.5, 2.0])) == pytest.approx(
        (2.0 - 3.182446 * 0.204124, 2.0 + 3.182446 * 0.204124), abs=1e-5
    )
    assert mean_interval(np.array([4.0, 4.0])) == (4.0, 4.0)


def test_engagement_per_version_and_path(known_log: Database) -> None:
    write_feedback(known_log, KNOWN_EVENTS)
    report = compute_engagement(known_log)
    versions = {row.group: row for row in report.by_version}
    assert list(versions) == ["v1", "v2"]
    v1, v2 = versions["v1"], versions["v2"]
    assert (v1.requests, v1.impressions, v2.requests, v2.impressions) == (2, 6, 3, 9)
    # v1: clicks r0{2} + r2{4} (a watch); ratings r0{2: 4, 3: 5}; dislike r2{1}
    assert (v1.ctr.count, v1.ctr.trials, v1.ctr.value) == (2, 6, pytest.approx(2 / 6))
    assert (v1.ctr.low, v1.ctr.high) == pytest.approx(wilson(2, 6), abs=1e-6)
    assert (v1.rating_rate.count, v1.dislike_rate.count) == (2, 1)
    assert v1.mean_rating.value == pytest.approx(4.5)
    # [4, 5]: sem 0.5, t(0.975, 1) = 12.7062 -> clipped to the scale 0.5..5
    assert (v1.mean_rating.low, v1.mean_rating.high) == (0.5, 5.0)
    # v2: clicks r3{5} + r4{1}; rating r3{5: 3}: one value, no interval
    assert (v2.ctr.count, v2.rating_rate.count, v2.dislike_rate.count) == (2, 1, 0)
    assert v2.dislike_rate.value == 0.0 and v2.dislike_rate.low == pytest.approx(0.0)
    assert v2.mean_rating.model_dump() == {"count": 1, "value": 3.0, "low": None, "high": None}

    overall = report.overall
    assert overall is not None and (overall.ctr.count, overall.ctr.trials) == (4, 15)
    assert (overall.ctr.low, overall.ctr.high) == pytest.approx((0.10898, 0.51951), abs=1e-5)
    # ratings [4, 5, 3]: mean 4, sem 0.57735, t(0.975, 2) = 4.302653 -> 1.51586 to 6.48 -> 5
    assert overall.mean_rating.value == pytest.approx(4.0)
    assert overall.mean_rating.low == pytest.approx(1.51586, abs=1e-5)
    assert overall.mean_rating.high == 5.0

    paths = {
        row.group: (row.impressions, row.ctr.count, row.rating_rate.count) for row in report.by_path
    }
    assert paths == {
        "no_candidates": (3, 0, 0),
        "personalised": (9, 3, 3),
        "unknown_user": (3, 1, 0),
    }
    assert (report.events_total, report.events_without_request, report.events_unknown_request) == (
        len(KNOWN_EVENTS),
        1,
        1,
    )


def test_engagement_window_and_empty_stores(known_log: Database, tmp_path) -> None:
    write_feedback(known_log, KNOWN_EVENTS)
    report = compute_engagement(known_log, since=at(1, 0), until=at(2, 0))
    assert [(row.group, row.impressions, row.ctr.count) for row in report.by_version] == [
        ("v2", 6, 2)
    ]
    assert compute_engagement(tmp_path / "missing.db").overall is None
    # A log written before feedback existed: answers but no events.
    from tests.monitoring.log_rows import write_log

    bare = compute_engagement(write_log(tmp_path / "bare.db", KNOWN_ROWS))
    assert bare.overall is not None and bare.overall.ctr.count == 0


def test_render_engagement(known_log: Database) -> None:
    write_feedback(known_log, KNOWN_EVENTS)
    console = Console(record=True, width=140)
    render_engagement(compute_engagement(known_log), console)
    text = console.export_text()
    assert "Engagement per model version" in text and "Engagement per fallback path" in text
    assert f"33.3% ({wilson(2, 6)[0]:.1%} to {wilson(2, 6)[1]:.1%})" in text
    assert "14 feedback events in the window: 1 without a request id" in text
