"""The reliability suite's tools: the API under `movierec serve` (a real uvicorn process with
the configured limits), and steady client load on it from a few threads."""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.servers import free_port, running_process

TOKEN = "reliability-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# What the load sends, in turn: every read route of the API.
REQUESTS: list[tuple[str, str, dict | None]] = [
    ("POST", "/recommend", {"user_id": 3, "k": 5}),
    ("POST", "/recommend", {"user_id": 999_999, "k": 5}),
    ("POST", "/similar", {"movie_id": 4, "k": 5}),
    ("GET", "/popular", None),
    ("GET", "/movies", None),
    ("GET", "/health", None),
]
LOGGED = {"/recommend", "/similar", "/popular"}


@dataclass
class Server:
    url: str
    process: object
    log_db: Path


@contextmanager
def serving(model_dir: Path, log_db: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`movierec serve` on a free port over `model_dir`, logging to `log_db`, until the block
    ends (SIGTERM); admin reload enabled with `AUTH`."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "movierec.cli", "serve"),
        *("--model-dir", str(model_dir), "--log-db", str(log_db)),
        *("--host", "127.0.0.1", "--port", str(port)),
    ]
    url = f"http://127.0.0.1:{port}"
    with (
        tempfile.TemporaryFile() as output,
        running_process(
            command, {"MOVIEREC_ADMIN_TOKEN": TOKEN, **(env or {})}, f"{url}/health", output, 120
        ) as process,
    ):
        yield Server(url, process, log_db)


@dataclass
class Load:
    """Client threads sending `REQUESTS` in turn over kept-alive connections until stopped."""

    url: str
    threads: int = 4
    statuses: Counter = field(default_factory=Counter)
    logged_ok: int = 0
    errors: list[str] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _run(self, offset: int) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            turn = offset
            while not self._stop.is_set():
                method, path, body = REQUESTS[turn % len(REQUESTS)]
                turn += 1
                try:
                    response = client.request(method, path, json=body)
                except httpx.TransportError as exc:
                    with self._lock:
                        self.errors.append(f"{path}: {exc!r}")
                    continue
                with self._lock:
                    self.statuses[response.status_code] += 1
                    if response.status_code == 200 and path in LOGGED:
                        self.logged_ok += 1
                    if response.status_code == 200 and path == "/recommend":
                        self.versions.add(response.json()["model_version"])

    def __enter__(self) -> Load:
        for offset in range(self.threads):
            worker = threading.Thread(target=self._run, args=(offset,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.statuses.values())


def log_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0])
