"""The frontend in headless Chromium, used as a person would, on the real system over ml-100k.

The real offline pipeline's bundle (session fixture `ml100k_settings`) is served by a real API
process; `streamlit run app.py` talks to it, and Playwright drives Debian's chromium. Each page
is screenshotted to `screenshots/frontend_<page>.png` plus one narrow-window screenshot, for a
person to look at and for the README (`docs/images/`, with MOVIEREC_UPDATE_DOC_IMAGES=1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from movierec.artifacts import ITEM_FEATURES, MODEL_METADATA, read_json
from movierec.config import Settings
from movierec.streamlit_app import FRONTEND_APP
from tests.e2e.conftest import BROWSER_ON_ML100K, browser_page, running_streamlit, save_screenshot
from tests.servers import running_api

CARDS = 12  # the pages' default number of movies
MLFLOW_URL = "http://mlflow.test:5000"

pytestmark = BROWSER_ON_ML100K


@pytest.fixture(scope="module")
def model_dir(ml100k_settings: Settings) -> Path:
    return ml100k_settings.serving.model_dir


@pytest.fixture(scope="module")
def frontend_url(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real API process on the ml-100k bundle and `streamlit run app.py` talking to it."""
    logs = tmp_path_factory.mktemp("frontend")
    with running_api(model_dir, logs / "requests.db") as api_url:
        # The API only: no bundle path reaches the frontend.
        env = {"MOVIEREC_API_URL": api_url, "MOVIEREC_FRONTEND__MLFLOW_URL": MLFLOW_URL}
        with running_streamlit(FRONTEND_APP, env, logs / "streamlit.log") as url:
            yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with browser_page(browser) as tab:
        yield tab


@pytest.fixture(scope="module")
def metadata(model_dir: Path) -> dict[str, Any]:
    return read_json(model_dir / MODEL_METADATA)


@pytest.fixture(scope="module")
def catalogue(model_dir: Path) -> dict[str, list[str]]:
    """Every ml-100k title of the bundle (with its year), mapped to its genres."""
    return {record["title"]: record["genres"] for record in read_json(model_dir / ITEM_FEATURES)}


def screenshot(page: Page, name: str) -> None:
    """Save the page once Streamlit has stopped running."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    save_screenshot(page, f"frontend_{name}")


def card_titles(page: Page) -> list[str]:
    """The titles on the rendered movie cards, with their year: 'Star Wars (1977)'."""
    return [
        re.sub(r"\s+", " ", text).strip()
        for text in page.locator(".mr-card .mr-title").all_inner_texts()
    ]


def bare(title: str) -> str:
    """A MovieLens title without its year and with a trailing article moved to the front."""
    title = re.sub(r"\s*\(\d{4}\)$", "", title)
    match = re.match(r"^(.+), (The|A|An|La|Le|Les|Il|Das|Der|Die)$", title)
    return f"{match[2]} {match[1]}" if match else title


def open_page(page: Page, frontend_url: str, link: str, path: str) -> None:
    """Open the app, then go to a page through its sidebar link, as a person does."""
    page.goto(frontend_url)
    expect(page.get_by_text("Movies picked for you")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    expect(page).to_have_url(f"{frontend_url}/{path}")


def assert_status_badge(page: Page, version: str) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("API online")).to_be_visible()
    expect(sidebar.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"model {version}")


def choose(page: Page, label: str, typed: str, option: str) -> None:
    """Pick in a Streamlit select box by typing part of the option, as a person does."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.keyboard.type(typed)
    page.get_by_role("option", name=option, exact=True).click()


def test_personalized_page(
    page: Page, frontend_url: str, metadata: dict[str, Any], catalogue: dict[str, list[str]]
) -> None:
    page.goto(frontend_url)
    assert_status_badge(page, metadata["version"])
    page.get_by_role("textbox", name="User id").fill("1")
    page.get_by_role("button", name="Recommend").click()
    expect(page.get_by_text("Picked for user 1")).to_be_visible()
    expect(page.locator(".mr-card")).to_have_count(CARDS)
    known = {bare(title) for title in catalogue}
    shown = card_titles(page)
    assert all(bare(title) in known for title in shown), shown
    assert not any("Synthetic" in title for title in shown), shown
    expect(page.locator(".mr-chip").first).to_be_visible()
    expect(page.get_by_text("We have no ratings from user")).to_have_count(0)
    # u.item's IMDb link, as today's IMDb search: on the title and as a "Find on IMDb" link.
    first = page.locator(".mr-card").first
    search = re.compile(r"^https://www\.imdb\.com/find/\?q=.+%28\d{4}%29&s=tt$")
    expect(first.locator(".mr-title a")).to_have_attribute("href", search)
    expect(first.get_by_role("link", name="Find on IMDb ↗")).to_have_attribute("target", "_blank")
    screenshot(page, "personalized")


def test_unknown_user_in_a_narrow_window(browser: Browser, frontend_url: str) -> None:
    with browser_page(browser, width=420) as page:
        page.goto(frontend_url)
        page.get_by_role("textbox", name="User id").fill("99999")
        page.keyboard.press("Enter")
        expect(page.get_by_text("We have no ratings from user 99999 yet")).to_be_visible()
        expect(page.locator(".mr-card")).to_have_count(CARDS)
        assert "Star Wars (1977)" in card_titles(page), "the fallback is the most popular movies"
        boxes = [page.locator(".mr-card").nth(i).bounding_box() for i in range(2)]
        assert boxes[0] and boxes[1] and boxes[1]["y"] > boxes[0]["y"], "cards stack in a column"
        assert boxes[0]["x"] >= 0 and boxes[0]["x"] + boxes[0]["width"] <= 420
        screenshot(page, "narrow")


def test_similar_page_finds_both_sequels_for_star_wars_and_says_why(
    page: Page, frontend_url: str, metadata: dict[str, Any]
) -> None:
    open_page(page, frontend_url, "Similar movies", "similar")
    assert_status_badge(page, metadata["version"])
    choose(page, "Movie", "Star Wars", "Star Wars (1977)")
    expect(page.locator(".mr-seed")).to_contain_text("Star Wars (1977)")
    similar = page.locator(".mr-card:not(.mr-seed)")
    expect(similar).to_have_count(CARDS)
    titles = card_titles(page)[1:]
    assert {"Return of the Jedi (1983)", "The Empire Strikes Back (1980)"} <= set(titles[:5])
    assert "Star Wars (1977)" not in titles, titles
    for index in range(CARDS):
        expect(similar.nth(index).locator(".mr-why").first).to_contain_text(
            re.compile(r"^[\d,]+ people rated both: \d+% of those who rated Star Wars$")
        )
    screenshot(page, "similar")


def test_popular_page_by_genre(
    page: Page, frontend_url: str, metadata: dict[str, Any], catalogue: dict[str, list[str]]
) -> None:
    open_page(page, frontend_url, "Popular", "popular")
    assert_status_badge(page, metadata["version"])
    expect(page.get_by_text("Most popular movies")).to_be_visible()
    expect(page.locator(".mr-card")).to_have_count(CARDS)
    choose(page, "Genre", "Sci", "Sci-Fi")
    expect(page.get_by_text("Most popular in Sci-Fi")).to_be_visible()
    cards = page.locator(".mr-card")
    expect(cards).to_have_count(CARDS)
    for index in range(CARDS):
        expect(cards.nth(index).locator(".mr-chip", has_text="Sci-Fi")).to_have_count(1)
    assert "Star Wars (1977)" in card_titles(page)
    screenshot(page, "popular")


def test_about_page_shows_the_model_and_its_offline_metrics(
    page: Page, frontend_url: str, metadata: dict[str, Any]
) -> None:
    open_page(page, frontend_url, "About", "about")
    assert_status_badge(page, metadata["version"])
    metrics = page.get_by_test_id("stMetric")
    expect(metrics).to_have_count(4)
    expect(metrics.filter(has_text="Status")).to_contain_text("Ready")
    expect(metrics.filter(has_text="Users")).to_contain_text(f"{metadata['n_users']:,}")
    expect(metrics.filter(has_text="Movies")).to_contain_text(f"{metadata['n_items']:,}")
    expect(page.get_by_text(f"Serving model {metadata['version']}")).to_be_visible()
    assert metadata["dataset"] == "ml-100k"
    expect(page.get_by_text("Ratings: MovieLens 100K")).to_be_visible()
    mlflow = page.get_by_role("link", name="open it in MLflow")
    expect(mlflow).to_have_attribute(
        "href", f"{MLFLOW_URL}/#/models/{metadata['model_name']}/versions/{metadata['version']}"
    )
    # The served model beside the most popular movies, with intervals, as a table and a chart.
    # The grids draw on a canvas; their cells are in an aria-hidden table beside it.
    comparison = page.get_by_test_id("stDataFrame").first
    ndcg = comparison.get_by_role("row", include_hidden=True).filter(has_text="NDCG@10")
    low, high = metadata["metrics"]["test_intervals"]["ndcg@10"]
    served = f"{metadata['metrics']['test']['ndcg@10']:.3f} ({low:.3f} to {high:.3f})"
    expect(ndcg).to_contain_text(served)
    baseline = metadata["metrics"]["baseline"]["test"]["ndcg@10"]
    expect(ndcg).to_contain_text(f"{baseline:.3f} (")
    header = comparison.locator("[role=columnheader]")
    expect(header.filter(has_text="most popular movies")).to_have_count(1)
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(1)
    expect(page.get_by_text("Source:")).to_have_count(0)

    page.get_by_text("Every offline metric").click()
    table = page.get_by_test_id("stDataFrame").last
    expect(table).to_be_visible()
    ndcg = table.get_by_role("row", include_hidden=True).filter(has_text="ndcg@10")
    for split in ("validation", "test"):
        expect(ndcg).to_contain_text(str(metadata["metrics"][split]["ndcg@10"]))
    expect(page.get_by_role("link", name="Swagger UI")).to_have_attribute(
        "href", re.compile(r"/docs$")
    )
    screenshot(page, "about")


# Five science-fiction classics a newcomer liked, as typed and as the search box lists them.
NEWCOMER_PICKS = [
    ("Star Wars", "Star Wars (1977)"),
    ("Alien", "Alien (1979)"),
    ("Blade Runner", "Blade Runner (1982)"),
    ("Terminator", "The Terminator (1984)"),
    ("2001", "2001: A Space Odyssey (1968)"),
]


def pick(page: Page, label: str, typed: str, option: str) -> None:
    """Add an option to a Streamlit multiselect by typing part of it, as a person does."""
    page.get_by_role("combobox", name=label).click()
    page.keyboard.type(typed)
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("stMultiSelect").get_by_text(option, exact=True)).to_be_visible()


def test_a_newcomer_onboards_by_clicking_rates_a_card_and_sees_their_ratings(
    page: Page, frontend_url: str, catalogue: dict[str, list[str]]
) -> None:
    open_page(page, frontend_url, "New here?", "onboarding")
    start = page.get_by_role("button", name="Get my recommendations")
    for typed, option in NEWCOMER_PICKS:
        expect(start).to_be_disabled()
        pick(page, "Movies you liked", typed, option)
    expect(page.get_by_text("5 movies picked: ready when you are.")).to_be_visible()
    page.get_by_text("5 movies picked").click()  # away from the search box: its list closes
    expect(page.get_by_role("listbox")).to_have_count(0)
    screenshot(page, "onboarding")

    start.click()
    expect(page.get_by_text("Welcome! You are user")).to_be_visible()
    cards = page.locator(".mr-card")
    expect(cards).to_have_count(CARDS)
    expect(page.get_by_text("Your picks are not enough")).to_have_count(0)
    shown = card_titles(page)
    picked = {option for _, option in NEWCOMER_PICKS}
    assert not picked & set(shown), shown
    genres = {bare(title): genre for title, genre in catalogue.items()}
    sci_fi = [title for title in shown if "Sci-Fi" in genres[bare(title)]]
    assert len(sci_fi) >= CARDS // 3, f"five sci-fi picks, yet only {sci_fi} of {shown}"
    picked_names = "|".join(re.escape(bare(option)) for option in picked)
    because = re.compile(rf"^Because you watched ({picked_names})(, | and |$)")
    for index in range(CARDS):
        expect(cards.nth(index).locator(".mr-why")).to_have_text(because)
    screenshot(page, "onboarding_results")

    first = page.locator("[class*='st-key-mr-cell-']").first
    rated = shown[0]
    first.get_by_role("radio", name="5 out of 5 stars").click()
    expect(page.get_by_text(f"{bare(rated)} rated ★★★★★")).to_be_visible()
    expect(page.locator(".mr-card .mr-title", has_text=rated)).to_have_count(0)
    expect(cards).to_have_count(CARDS)  # another movie took its place at once

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Your ratings").click()
    expect(page).to_have_url(f"{frontend_url}/ratings")
    expect(cards).to_have_count(len(NEWCOMER_PICKS) + 1)
    assert card_titles(page)[0] == rated, "latest first"
    expect(cards.first).to_contain_text("You rated it ★★★★★")
    expect(page.locator(".mr-score")).to_have_count(0)  # no list's score on your own ratings
    screenshot(page, "ratings")
