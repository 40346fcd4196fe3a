"""/docs and /redoc reference only the API's own address: their assets are served by the API."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.api.conftest import ClientFactory

ASSET_ATTRIBUTES = {"src", "href", "spec-url"}


class AssetLinks(HTMLParser):
    """The URLs a page's tags load (`src`, `href`, ReDoc's `spec-url`)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ASSET_ATTRIBUTES and value]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_everything_from_the_api(make_client: ClientFactory, page: str) -> None:
    with make_client() as client:
        response = client.get(page)
        assert response.status_code == 200
        assert "://" not in response.text, "the page names an external host"
        links = AssetLinks()
        links.feed(response.text)
        scripts = [url for url in links.urls if url.endswith(".js")]
        assert scripts and all(url.startswith("/") for url in links.urls), links.urls
        for url in links.urls:
            asset = client.get(url)
            assert asset.status_code == 200 and asset.content, url
