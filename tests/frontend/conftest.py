"""Fixtures of the frontend tests: a real API process on a synthetic bundle, and dead ends.

`api_url` is a uvicorn process serving a model built from `tests.synthetic` data (demo
mode), writing to the store `api_store`;
`not_ready_url` serves an empty model folder (every recommendation answers 503);
`closed_url` is a port nothing listens on; `silent_url` accepts connections and never answers.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from movierec.artifacts import ITEM_FEATURES, read_json
from movierec.streamlit_app import FRONTEND_APP
from tests.frontend.bundle import frontend_bundle
from tests.servers import free_port, running_api

APP_TIMEOUT_S = 30.0


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return frontend_bundle(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def catalogue_records(model_dir: Path) -> list[dict]:
    """The bundle's catalogue as written: movie_id, title, year, genres."""
    return read_json(model_dir / ITEM_FEATURES)


@pytest.fixture(scope="session")
def api_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store (SQLite file) of the `api_url` process: request log, feedback, accounts."""
    return tmp_path_factory.mktemp("logs") / "requests.db"


@pytest.fixture(scope="session")
def api_url(model_dir: Path, api_store: Path) -> Iterator[str]:
    with running_api(model_dir, api_store) as url:
        yield url


@pytest.fixture(scope="session")
def not_ready_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("empty")
    (root / "models").mkdir()
    with running_api(root / "models", root / "requests.db") as url:
        yield url


@pytest.fixture
def closed_url() -> str:
    """An address on which nothing listens (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """An address that accepts connections but never answers, like a stuck server."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


@pytest.fixture
def frontend_app(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], AppTest]:
    """An `AppTest` of the whole app (entry point + navigation) talking to the API at a URL."""

    def make(url: str) -> AppTest:
        monkeypatch.setenv("MOVIEREC_API_URL", url)
        return AppTest.from_file(str(FRONTEND_APP), default_timeout=APP_TIMEOUT_S)

    return make
