"""Fixtures of the browser tests: the real system on ml-100k, headless Chromium, screenshots.

`ml100k_settings` runs the real offline pipeline once per session (the ml-100k mirror, its
checksums from configs/data.yaml verified) into a tmp dir; the browser tests serve that bundle
with a real API and a real `streamlit run`. Screenshots go to `screenshots/` (git-ignored);
with MOVIEREC_UPDATE_DOC_IMAGES=1 they are also copied to `docs/images/`, the tracked copies
the README embeds (CI leaves that variable unset, so it never rewrites tracked files).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright
from rich.console import Console

from movierec.config import Settings, load_settings
from movierec.streamlit_app import streamlit_command
from movierec.training.pipeline import run_pipeline
from tests.conftest import real_mirror, requires_ml100k, settings_in
from tests.servers import REPO_ROOT, free_port, running_process

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
# Every browser wait (navigation, locator actions, `expect`) has this one generous timeout: a
# Streamlit page's first run imports the whole app, and on a busy 2-core machine that and the
# charts' drawing take many times their idle 1-2 s. A real failure still fails, once.
BROWSER_TIMEOUT_MS = 60_000
SCREENSHOTS = REPO_ROOT / "screenshots"
DOC_IMAGES = REPO_ROOT / "docs" / "images"
UPDATE_DOC_IMAGES = "MOVIEREC_UPDATE_DOC_IMAGES"
MAX_DOC_IMAGE_BYTES = 400_000

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"headless Chromium not found at {CHROMIUM}: apt-get install chromium",
)

# The marks of a browser test on the real ml-100k system.
BROWSER_ON_ML100K = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(300),
    requires_ml100k,
    requires_chromium,
]


@pytest.fixture(scope="session")
def ml100k_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a tmp dir holding the real pipeline's output on ml-100k (run once)."""
    mirror = real_mirror()
    if mirror is None:
        pytest.skip("MovieLens mirror not found: set MOVIELENS_BASE_URL to a folder with ml-100k")
    checksums = load_settings().data.checksums["ml-100k"]
    settings = settings_in(tmp_path_factory.mktemp("ml100k"), mirror, checksums)
    report = run_pipeline(settings, Console(quiet=True))
    assert report.training is not None and report.training.gate.promote
    return settings


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium; every `expect` of the session waits up to `BROWSER_TIMEOUT_MS`."""
    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def browser_page(browser: Browser, width: int = 1366, height: int = 900) -> Iterator[Page]:
    """A tab in a fresh context of `width` x `height` whose waits take `BROWSER_TIMEOUT_MS`."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@contextmanager
def running_streamlit(script: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """`streamlit run script` on a free loopback port with `env` added; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = streamlit_command(script, port, address="127.0.0.1")
    with (
        log.open("w+b") as output,
        running_process(command, env, f"{url}/_stcore/health", output, 60),
    ):
        yield url


def save_screenshot(page: Page, name: str) -> Path:
    """Save the page, window stretched to the content's height, as `screenshots/<name>.png`.

    Streamlit scrolls inside its main container, so a plain full-page shot would cut it off.
    With MOVIEREC_UPDATE_DOC_IMAGES=1 the file is also copied to `docs/images/`.
    """
    viewport = page.viewport_size
    assert viewport is not None
    height = page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll('*')).map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], height)})
    page.wait_for_timeout(800)
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    with Image.open(path) as shot:  # losslessly smaller than Chromium's PNG (about 10%)
        shot.save(path, optimize=True)
    page.set_viewport_size(viewport)
    if os.environ.get(UPDATE_DOC_IMAGES) == "1":
        size = path.stat().st_size
        assert size < MAX_DOC_IMAGE_BYTES, f"{path} is {size:,} bytes, too big for docs/images"
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_IMAGES / path.name)
    return path


@pytest.fixture
def clean_clone(tmp_path: Path) -> Path:
    """A fresh `git clone` of this checkout, as a newcomer gets it."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout of the project to clone")
    clone = tmp_path / "movie-recommender"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
    return clone
