"""/docs (Swagger UI) and /redoc in headless Chromium with no network beyond the API itself.

A real API process serves a synthetic bundle; every request the page makes to a host other
than 127.0.0.1 is aborted with Playwright's routing, as on a machine with no internet access.
The pages must still draw the API's operations from the assets the API serves. The one
off-machine request is ReDoc's footer logo, compiled into its script: ReDoc drops the image
when it does not load, so the page shows no broken image.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.bundles import build_synthetic_bundle
from tests.e2e.conftest import browser_page, requires_chromium
from tests.servers import running_api

OPERATIONS = ("/recommend", "/similar", "/popular")
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(120), requires_chromium]


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("docs")
    with running_api(build_synthetic_bundle(root / "production"), root / "requests.db") as url:
        yield url


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to any host but 127.0.0.1 are aborted; the list of those URLs."""
    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    with browser_page(browser) as page:
        page.context.route("**/*", only_loopback)
        yield page, blocked


def test_swagger_ui_lists_the_operations_offline(
    offline_page: tuple[Page, list[str]], api_url: str
) -> None:
    page, blocked = offline_page
    page.goto(f"{api_url}/docs")
    for path in OPERATIONS:
        expect(page.locator(f'.opblock-summary-path[data-path="{path}"]')).to_be_visible()
    assert blocked == []


def test_redoc_lists_the_operations_offline(
    offline_page: tuple[Page, list[str]], api_url: str
) -> None:
    page, blocked = offline_page
    page.goto(f"{api_url}/redoc")
    for path in OPERATIONS:
        expect(page.get_by_text(path, exact=True).first).to_be_visible()
    expect(page.get_by_alt_text("redocly logo")).to_have_count(0)
    assert set(blocked) <= {REDOC_LOGO}, blocked
