"""Signing up, rating and signing out in headless Chromium, on a real API in required mode and
the real `streamlit run` frontend (synthetic data: the flow, not the model, is under test)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from movierec.streamlit_app import FRONTEND_APP
from tests.e2e.conftest import browser_page, requires_chromium, running_streamlit
from tests.frontend.bundle import frontend_bundle
from tests.servers import running_api

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300), requires_chromium]
REQUIRED = {
    "MOVIEREC_AUTH__MODE": "required",
    "MOVIEREC_AUTH__SECRET": "a-browser-test-secret-of-32-characters-or-more",
}


@pytest.fixture(scope="module")
def frontend_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("account")
    model_dir = frontend_bundle(root / "bundle")
    # A busy machine can take over a minute to start the API (the default wait).
    with running_api(model_dir, root / "store.db", env=REQUIRED, timeout=180) as api_url:
        env = {"MOVIEREC_API_URL": api_url, "MOVIEREC_AUTH__MODE": REQUIRED["MOVIEREC_AUTH__MODE"]}
        with running_streamlit(FRONTEND_APP, env, root / "streamlit.log") as url:
            yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with browser_page(browser) as tab:
        yield tab


def test_required_mode_sign_up_recommend_rate_and_sign_out(page: Page, frontend_url: str) -> None:
    page.goto(frontend_url)
    page.get_by_role("button", name="Recommend").click()
    expect(page.get_by_text("Sign in on the Account page")).to_be_visible()  # not anonymous
    page.get_by_role("link", name="Account").click()
    page.get_by_role("tab", name="Create account").click()
    page.get_by_label("Email", exact=True).last.fill("browser@example.org")
    page.get_by_label("Password", exact=True).last.fill("a long password")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()
    page.get_by_role("link", name="For you").click()
    page.get_by_role("button", name="Recommend").click()
    # a fresh account has rated nothing: its own user's popular picks, named by its id
    expect(page.get_by_text(re.compile(r"user \d+", re.IGNORECASE)).first).to_be_visible()
    first = page.locator("[class*='st-key-mr-cell-']").first
    title = first.locator(".mr-title").inner_text()
    first.get_by_role("radio", name="5 out of 5 stars").click()
    expect(page.get_by_text(re.compile(r"rated ★★★★★"))).to_be_visible()  # stored as the account
    page.get_by_role("link", name="Your ratings").click()
    expect(page.locator(".mr-card")).to_have_count(1)
    expect(page.locator(".mr-card").first).to_contain_text(title)
    expect(page.locator(".mr-card").first).to_contain_text("You rated it ★★★★★")
    page.get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("tab", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="For you").click()
    page.get_by_role("button", name="Recommend").click()
    expect(page.get_by_text("Sign in on the Account page")).to_be_visible()
    page.get_by_role("link", name="Your ratings").click()  # nothing of the account is left
    expect(page.get_by_role("link", name="Sign in to rate movies")).to_be_visible()
    expect(page.locator(".mr-card")).to_have_count(0)
