"""The online comparison `movierec promote` needs: enough impressions, rates not below."""

from __future__ import annotations

import pytest

from movierec.monitoring.engagement import EngagementRow, Mean, Rate
from movierec.pipeline.promotion import PromotionError, online_verdict


def row(version: str, impressions: int, clicks: int, low: float, high: float) -> EngagementRow:
    ctr = Rate(count=clicks, trials=impressions, value=clicks / impressions, low=low, high=high)
    none = Rate(count=0, trials=impressions, value=0.0, low=0.0, high=0.01)
    return EngagementRow(
        group=version,
        requests=impressions // 10,
        impressions=impressions,
        ctr=ctr,
        rating_rate=none,
        dislike_rate=none,
        mean_rating=Mean(count=0, value=None, low=None, high=None),
    )


def test_too_few_impressions_is_refused() -> None:
    with pytest.raises(PromotionError, match="has 500 impressions online, fewer than"):
        online_verdict([row("2", 500, 50, 0.08, 0.12)], "1", "2", min_impressions=1000)
    with pytest.raises(PromotionError, match="has 0 impressions"):
        online_verdict([], "1", "2", min_impressions=1)


def test_a_challenger_clearly_below_the_champion_is_refused() -> None:
    rows = [row("1", 5000, 600, 0.11, 0.13), row("2", 2000, 160, 0.07, 0.09)]
    with pytest.raises(PromotionError, match=r"ctr 8\.00% \[7\.00%, 9\.00%\] is below"):
        online_verdict(rows, "1", "2", min_impressions=1000)


def test_overlapping_intervals_are_no_worse() -> None:
    rows = [row("1", 5000, 600, 0.11, 0.13), row("2", 2000, 220, 0.095, 0.125)]
    said = online_verdict(rows, "1", "2", min_impressions=1000)
    assert said.startswith("online over 2000 impressions: ctr 11.00% vs 12.00%")
