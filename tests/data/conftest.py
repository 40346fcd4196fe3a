"""Fixtures of the data-layer tests: settings over the synthetic mirror and a real HTTP mirror."""

from __future__ import annotations

import contextlib
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from movierec.config import DataSettings


def data_settings_for(
    root: Path, mirror: Path | str, checksums: dict[str, str] | None = None, **data: Any
) -> DataSettings:
    """Data settings rooted in `root`, reading from `mirror` (a folder or URL).

    `checksums` are those of the configured dataset (ml-100k unless `data` says otherwise);
    None means no checksums at all. Built directly, so configs/*.yaml play no part.
    """
    dataset = data.get("dataset", "ml-100k")
    return DataSettings(
        base_url=str(mirror),
        raw_dir=root / "data/raw",
        processed_dir=root / "data/processed",
        features_dir=root / "data/features",
        checksums={dataset: checksums} if checksums is not None else {},
        **data,
    )


@pytest.fixture
def data_settings(tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]) -> DataSettings:
    """Settings over the synthetic ml-100k mirror with its verified checksums."""
    mirror, checksums = synthetic_mirror
    return data_settings_for(tmp_path, mirror, checksums)


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    """A zip archive at `path` holding `files` (archive name -> content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


@dataclass
class MirrorServer:
    """A real HTTP server over `directory`; `failures` makes the next requests misbehave.

    Each entry of `failures` is consumed by one request: "500" answers an error, "truncate"
    sends half the body then closes the connection, "slow" waits 1 s before answering.
    """

    directory: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _handler(mirror: MirrorServer) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(mirror.directory), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read `mirror.requests` instead."""

        def do_GET(self) -> None:
            mirror.requests.append(self.path)
            failure = mirror.failures.pop(0) if mirror.failures else None
            if failure == "500":
                self.send_error(500, "Internal Server Error")
                return
            if failure == "slow":
                time.sleep(1.0)
            if failure == "truncate":
                body = (mirror.directory / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().do_GET()  # the client may give up first (the timeout test)

    return Handler


@pytest.fixture
def mirror_server(
    synthetic_mirror: tuple[Path, dict[str, str]],
) -> Iterator[MirrorServer]:
    """The synthetic mirror served over HTTP on a free loopback port."""
    mirror = MirrorServer(directory=synthetic_mirror[0])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(mirror))
    server.daemon_threads = True
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield mirror
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
