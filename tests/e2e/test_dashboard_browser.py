"""The monitoring dashboard in headless Chromium, over traffic the real system served on ml-100k.

The real offline pipeline's bundle (session fixture `ml100k_settings`) is served by a real API
process while the traffic simulator replays the held-out users of the pipeline's test split;
then `streamlit run dashboard.py` reads that request log and the simulator's feedback.
Chromium waits for the charts to draw, checks the KPI cards, the engagement and the replay
sections, and saves `screenshots/dashboard.png`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from movierec.artifacts import MODEL_METADATA, read_json
from movierec.config import Settings, SimulatorSettings
from movierec.monitoring.simulator import simulate, traffic_sources
from movierec.streamlit_app import DASHBOARD_APP
from tests.e2e.conftest import BROWSER_ON_ML100K, browser_page, running_streamlit, save_screenshot
from tests.servers import running_api

MIX = SimulatorSettings(unknown_user_share=0.1, similar_share=0.25, popular_share=0.15)
CHARTS = 9

pytestmark = BROWSER_ON_ML100K


@pytest.fixture(scope="module")
def served_log(ml100k_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A request log of a few seconds of simulated traffic the real API served."""
    log_db = tmp_path_factory.mktemp("served") / "requests.db"
    model_dir = ml100k_settings.serving.model_dir
    test_split = ml100k_settings.data.processed_dir / "test.parquet"
    with running_api(model_dir, log_db) as url:
        report = simulate(
            url,
            traffic_sources(test_split, model_dir),
            rate=80,
            duration_s=5,
            max_requests=400,
            mix=MIX,
            seed=0,
            show_progress=False,
        )
    assert report.errors == 0, report.error_samples
    assert report.by_endpoint.get("/recommend", 0) > 50, report.by_endpoint
    return log_db


@pytest.fixture(scope="module")
def dashboard_url(
    ml100k_settings: Settings, served_log: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    env = {
        "MOVIEREC_MONITORING__LOG_DB": str(served_log),
        "MOVIEREC_SERVING__MODEL_DIR": str(ml100k_settings.serving.model_dir),
        "MOVIEREC_DATA__PROCESSED_DIR": str(ml100k_settings.data.processed_dir),
    }
    log = tmp_path_factory.mktemp("dashboard") / "streamlit.log"
    with running_streamlit(DASHBOARD_APP, env, log) as url:
        yield url


@pytest.fixture(scope="module")
def metadata(ml100k_settings: Settings) -> dict[str, Any]:
    return read_json(ml100k_settings.serving.model_dir / MODEL_METADATA)


def replay_row(page: Page, version: str) -> dict[str, str]:
    """The replay table's row of model `version`, as {column header: cell text}.

    The grid draws on a canvas; its cells are in an aria-hidden table beside it.
    """
    replay_header = page.locator("[role=columnheader]", has_text="offline precision")
    table = page.get_by_test_id("stDataFrame").filter(has=replay_header)
    version_cell = page.locator("[role=gridcell]").get_by_text(version, exact=True)
    row = table.locator("[role=row]").filter(has=version_cell)
    expect(row).to_have_count(1)
    header = table.locator("[role=columnheader]").all_text_contents()
    cells = row.locator("[role=gridcell]").all_text_contents()
    return dict(zip(header, cells, strict=True))


def test_dashboard_shows_kpis_charts_and_the_replay(
    browser: Browser, dashboard_url: str, metadata: dict[str, Any], ml100k_settings: Settings
) -> None:
    with browser_page(browser) as page:
        page.goto(dashboard_url)
        expect(page.get_by_text("movierec · service health")).to_be_visible()
        page.wait_for_function(
            "n => document.querySelectorAll("
            '\'[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg.marks\''
            ").length >= n",
            arg=CHARTS,
        )
        expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(CHARTS)

        cards = page.get_by_test_id("stMetric")
        for label in ("Requests", "Unique users", "p50 latency", "p99 latency", "Fallback rate"):
            card = cards.filter(has_text=label).first
            expect(card).to_be_visible()
            expect(card).not_to_contain_text("n/a")
        expect(cards.filter(has_text="p99 latency").first).to_contain_text(" ms")
        cut = page.get_by_test_id("stMetricValue").evaluate_all(
            "values => values.map(v => v.firstElementChild)"
            ".filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent)"
        )
        assert not cut, f"KPI values cut off: {cut}"
        picker = page.locator(".vega-bind select")  # latency over time: which endpoint
        expect(picker).to_have_value("/recommend")
        expect(picker.locator("option")).to_have_text(["/recommend", "/similar", "/popular"])

        # The simulator's clicks and ratings, joined to the answers by request id.
        expect(page.get_by_text("Engagement · clicks and ratings")).to_be_visible()
        for label in ("CTR", "Rating rate", "Mean rating"):
            expect(cards.filter(has_text=label).first).not_to_contain_text("n/a")

        expect(page.get_by_text("Replay evaluation", exact=False)).to_be_visible()
        row = replay_row(page, metadata["version"])
        k = ml100k_settings.monitoring.replay_k
        assert int(row["requests"]) > 0 and 0 < float(row[f"precision@{k}"]) <= 1, row
        assert row["clicks from"] == "feedback", row
        splits = [metadata["metrics"][split] for split in ("validation", "test")]
        for name in (f"precision@{k}", f"hit_rate@{k}"):
            offline = row[f"offline {name.replace('_', ' ')}"]
            assert offline not in ("", "None", "n/a"), row
            assert float(offline) in {split[name] for split in splits}, row

        page.wait_for_timeout(1000)  # let vega finish its last transition
        save_screenshot(page, "dashboard")


def test_replay_sets_the_test_split_offline_metrics_beside_the_online_ones(
    browser: Browser, dashboard_url: str, metadata: dict[str, Any], ml100k_settings: Settings
) -> None:
    with browser_page(browser) as page:
        page.goto(dashboard_url)
        expect(page.get_by_text("Replay evaluation", exact=False)).to_be_visible()
        row = replay_row(page, metadata["version"])
    k = ml100k_settings.monitoring.replay_k
    test_split = metadata["metrics"]["test"]
    assert float(row[f"offline precision@{k}"]) == test_split[f"precision@{k}"], row
    assert float(row[f"offline hit rate@{k}"]) == test_split[f"hit_rate@{k}"], row
