"""The monitoring dashboard in headless Chromium, over traffic a real API served.

Two model versions serve simulated traffic in turn (real uvicorn processes, real request log),
then `streamlit run dashboard.py` serves the dashboard on a free port; Chromium waits for the
charts to draw, checks the key text and saves `screenshots/dashboard.png` (git-ignored) for
the README.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.config import SimulatorSettings
from movierec.monitoring.simulator import simulate, traffic_sources
from movierec.streamlit_app import DASHBOARD_APP, streamlit_command
from tests.bundles import build_bundle
from tests.servers import REPO_ROOT, free_port, running_api, stop_process, wait_for_http
from tests.synthetic import generate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO_ROOT / "screenshots" / "dashboard.png"
MIX = SimulatorSettings(unknown_user_share=0.1, similar_share=0.25, popular_share=0.15)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"headless Chromium not found at {CHROMIUM}"),
]


@pytest.fixture
def served_log(tmp_path: Path) -> dict[str, str]:
    """Settings env for a log filled by two model versions, with a held-out split beside it."""
    ratings = generate().ratings.sort_values("timestamp")
    processed = tmp_path / "processed"
    processed.mkdir()
    held_out = ratings.groupby("user_id").tail(4)
    held_out.assign(confidence=1.0).to_csv(processed / "test.csv", index=False)
    train = ratings.drop(held_out.index)
    log_db = tmp_path / "logs" / "requests.db"
    model_dir = tmp_path / "production"
    for seed, version in ((0, "svd-2024-05-01"), (1, "svd-2024-05-08")):
        build_bundle(model_dir, train, generate().items, seed=seed, version=version)
        with running_api(model_dir, log_db) as url:
            simulate(
                url,
                traffic_sources(processed / "test.csv", model_dir),
                rate=40,
                duration_s=8,
                max_requests=400,
                mix=MIX,
                seed=seed,
                show_progress=False,
            )
    return {
        "MOVIEREC_CONFIG_DIR": str(REPO_ROOT / "configs"),
        "MOVIEREC_MONITORING__LOG_DB": str(log_db),
        "MOVIEREC_SERVING__MODEL_DIR": str(model_dir),
        "MOVIEREC_DATA__PROCESSED_DIR": str(processed),
    }


@pytest.fixture
def dashboard_url(served_log: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **served_log}
    with (tmp_path / "streamlit.log").open("wb") as output:
        process = subprocess.Popen(
            streamlit_command(DASHBOARD_APP, port, address="127.0.0.1"),
            env=env,
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", 60, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_process(process)


def test_dashboard_renders_in_chromium(dashboard_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(dashboard_url)
            page.get_by_text("movierec · service health").wait_for(timeout=60_000)
            charts = page.locator('[data-testid="stVegaLiteChart"]')
            page.wait_for_function(
                "() => document.querySelectorAll("
                '\'[data-testid="stVegaLiteChart"] canvas, '
                '[data-testid="stVegaLiteChart"] svg.marks\').length >= 7',
                timeout=60_000,
            )
            assert charts.count() == 7
            for text in ("Requests", "p99 latency", "Fallback rate", "Traffic"):
                assert page.get_by_text(text, exact=True).first.is_visible()
            assert page.get_by_text("Replay evaluation", exact=False).first.is_visible()
            assert page.get_by_text("svd-2024-05-08").first.is_visible()
            page.wait_for_timeout(1000)  # let vega finish its last transition
            height = page.evaluate(
                "() => Math.max(...Array.from(document.querySelectorAll('*'))"
                ".map(e => e.scrollHeight))"
            )
            page.set_viewport_size({"width": 1440, "height": int(height)})
            page.wait_for_timeout(1000)
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 50_000
