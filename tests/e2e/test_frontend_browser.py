"""The frontend in headless Chromium, used as a person would, against a real API process.

`streamlit run app.py` and the API run as real processes on free ports; Playwright drives
Debian's chromium. Each page is screenshotted to `screenshots/frontend_<page>.png` (git-ignored)
plus one narrow-window screenshot, for a person to look at.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from movierec.artifacts import ITEM_FEATURES, read_json
from movierec.streamlit_app import FRONTEND_APP, streamlit_command
from tests.frontend.bundle import frontend_bundle
from tests.servers import REPO_ROOT, free_port, running_api, stop_process, wait_for_http

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
SCREENSHOTS = REPO_ROOT / "screenshots"
WAIT_MS = 30_000

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason="/usr/bin/chromium is absent: apt-get install chromium"
    ),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return frontend_bundle(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="module")
def frontend_url(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real API process and `streamlit run app.py` talking to it; the frontend's URL."""
    logs = tmp_path_factory.mktemp("frontend")
    with running_api(model_dir, logs / "requests.db") as api_url:
        port = free_port()
        env = {
            **os.environ,
            "MOVIEREC_API_URL": api_url,
            "MOVIEREC_SERVING__MODEL_DIR": str(model_dir),
        }
        with (logs / "streamlit.log").open("w") as output:
            process = subprocess.Popen(
                streamlit_command(FRONTEND_APP, port, address="127.0.0.1"),
                env=env,
                cwd=REPO_ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                wait_for_http(f"{url}/_stcore/health", timeout=60, process=process)
                yield url
            finally:
                stop_process(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    yield tab
    context.close()


@pytest.fixture(scope="module")
def titles(model_dir: Path) -> set[str]:
    return {record["title"] for record in read_json(model_dir / ITEM_FEATURES)}


def screenshot(page: Page, name: str) -> None:
    """Save the whole page once it has stopped running.

    Streamlit scrolls inside its main container, so the window is made as tall as the content.
    """
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=WAIT_MS)
    viewport = page.viewport_size
    assert viewport is not None
    height = page.get_by_test_id("stMain").evaluate("element => element.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], height)})
    page.wait_for_timeout(300)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"frontend_{name}.png")
    page.set_viewport_size(viewport)


def card_titles(page: Page) -> list[str]:
    """The titles on the rendered movie cards (without the year)."""
    return [text.strip() for text in page.locator(".mr-card .mr-title").all_inner_texts()]


def assert_status_badge(page: Page) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("API online")).to_be_visible()
    expect(sidebar.get_by_text("synthetic-embeddings-0")).to_be_visible()


def choose(page: Page, label: str, typed: str) -> None:
    """Pick in a Streamlit select box by typing part of the option, as a person does."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.keyboard.type(typed)
    page.get_by_role("option").first.click()


def test_personalized_page(page: Page, frontend_url: str, titles: set[str]) -> None:
    page.goto(frontend_url)
    assert_status_badge(page)
    page.get_by_role("textbox", name="User id").fill("7")
    page.get_by_role("button", name="Recommend").click()
    expect(page.get_by_text("Picked for user 7")).to_be_visible()
    expect(page.locator(".mr-card")).to_have_count(12)
    shown = card_titles(page)
    assert all(re.sub(r" \(\d{4}\)$", "", title) in titles for title in shown), shown
    expect(page.locator(".mr-chip").first).to_be_visible()
    screenshot(page, "personalized")


def test_unknown_user_in_a_narrow_window(browser: Browser, frontend_url: str) -> None:
    context = browser.new_context(viewport={"width": 420, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(frontend_url)
    page.get_by_role("textbox", name="User id").fill("99999")
    page.keyboard.press("Enter")
    expect(page.get_by_text("is not among the users the model was trained on")).to_be_visible()
    expect(page.locator(".mr-card")).to_have_count(12)
    boxes = [page.locator(".mr-card").nth(i).bounding_box() for i in range(2)]
    assert boxes[0] and boxes[1] and boxes[1]["y"] > boxes[0]["y"], "cards stack in one column"
    assert boxes[0]["width"] <= 420
    screenshot(page, "narrow")
    context.close()


def test_similar_page(page: Page, frontend_url: str) -> None:
    page.goto(f"{frontend_url}/similar")
    assert_status_badge(page)
    choose(page, "Movie", "Movie 17")
    seed = page.locator(".mr-seed")
    expect(seed).to_contain_text("Synthetic Movie 17")
    expect(page.locator(".mr-card:not(.mr-seed)")).to_have_count(12)
    assert "Synthetic Movie 17 (1996)" not in card_titles(page)[1:]
    screenshot(page, "similar")


def test_popular_page(page: Page, frontend_url: str) -> None:
    page.goto(f"{frontend_url}/popular")
    assert_status_badge(page)
    expect(page.locator(".mr-card")).to_have_count(12)
    choose(page, "Genre", "Horr")
    expect(page.get_by_text("Most popular in Horror")).to_be_visible()
    cards = page.locator(".mr-card")
    expect(cards).to_have_count(12)
    for index in range(12):
        expect(cards.nth(index).locator(".mr-chip", has_text="Horror")).to_have_count(1)
    screenshot(page, "popular")


def test_about_page(page: Page, frontend_url: str) -> None:
    page.goto(f"{frontend_url}/about")
    assert_status_badge(page)
    metrics = page.get_by_test_id("stMetric")
    expect(metrics).to_have_count(4)
    expect(metrics.filter(has_text="Users")).to_contain_text("120")
    expect(metrics.filter(has_text="Movies")).to_contain_text("90")
    expect(page.get_by_role("link", name="Swagger UI")).to_have_attribute(
        "href", re.compile(r"/docs$")
    )
    expect(page.get_by_role("link", name="ReDoc")).to_have_attribute("href", re.compile(r"/redoc$"))
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    screenshot(page, "about")
