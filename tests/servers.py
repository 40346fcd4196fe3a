"""Real server processes for tests: a free port, waiting for HTTP, starting and stopping a
server process, and the API under uvicorn."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import cycle
from pathlib import Path
from typing import BinaryIO

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    """Wait until `url` answers any HTTP status; TimeoutError (or RuntimeError if `process`
    exits) otherwise."""
    deadline = time.monotonic() + timeout
    # One client for every try: `httpx.get` builds a TLS context each call (tens of ms of
    # CPU), which on a 2-core machine slows the very start-up it waits for.
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"process exited with {process.returncode} before {url} answered"
                )
            try:
                client.get(url)
                return
            except httpx.TransportError:
                time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop_process(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM (a graceful uvicorn shutdown flushes the request log), SIGKILL after `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_process(
    command: list[str], env: dict[str, str], ready_url: str, output: BinaryIO, timeout: float
) -> Iterator[subprocess.Popen]:
    """Run `command` from the repo root until the block ends; yield it once `ready_url` answers.

    The process sees this environment, the repo's configs and `env`, and writes to `output`
    (shown in the error when it does not start). It is stopped with `stop_process` on exit.
    """
    process = subprocess.Popen(
        command,
        env={**os.environ, "MOVIEREC_CONFIG_DIR": str(REPO_ROOT / "configs"), **env},
        cwd=REPO_ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_for_http(ready_url, timeout, process)
        except (TimeoutError, RuntimeError) as exc:
            output.seek(0)
            log = output.read().decode(errors="replace")
            raise RuntimeError(f"server did not start: {exc}\n--- output ---\n{log}") from exc
        yield process
    finally:
        stop_process(process)


@contextmanager
def running_api(
    model_dir: Path,
    log_db: Path,
    env: dict[str, str] | None = None,
    workers: int = 1,
    timeout: float = 60.0,
    app: str = "movierec.api.main:create_app",
) -> Iterator[str]:
    """Run `movierec.api` (or another `app` factory) under a real uvicorn process on a free
    port; yield its base URL.

    Settings reach the process as MOVIEREC_SERVING__* variables; `env` adds or overrides
    variables (e.g. MOVIEREC_ADMIN_TOKEN). The process is stopped with SIGTERM on exit, so
    its request log is flushed when the block ends; `api_pid(url)` gives its pid for signals.
    """
    port = free_port()
    settings = {
        "MOVIEREC_SERVING__MODEL_DIR": str(model_dir),
        "MOVIEREC_SERVING__LOG_DB": str(log_db),
        "MOVIEREC_SERVING__PORT": str(port),
        "MOVIEREC_SERVING__HOST": "127.0.0.1",
        "MOVIEREC_SERVING__WORKERS": str(workers),
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    with (
        tempfile.TemporaryFile() as output,
        running_process(command, settings, f"{url}/health", output, timeout) as process,
    ):
        _PROCESSES[url] = process
        try:
            yield url
        finally:
            del _PROCESSES[url]


_PROCESSES: dict[str, subprocess.Popen] = {}


def api_pid(url: str) -> int:
    """Process id of the uvicorn process `running_api` started for `url` (to send signals)."""
    return _PROCESSES[url].pid


def post_to_starting_workers(url: str, body: dict, attempts: int = 3) -> httpx.Response:
    """POST `body` on a new connection, retrying a connection closed unanswered: with several
    workers the readiness wait saw one of them, and another still starting can drop a
    connection (never served, so never logged)."""
    for attempt in range(attempts):
        try:
            return httpx.post(url, json=body)
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("attempts must be at least 1")


class Traffic:
    """Requests /recommend for `users` in turn, on a new connection each time, until stopped;
    keeps every status, version answered and transport error."""

    def __init__(self, url: str, users: Iterable[int]) -> None:
        self.url = url
        self.users = list(users)
        self.statuses: Counter[int] = Counter()
        self.versions: set[str] = set()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        users = cycle(self.users)
        while not self._stop.is_set():
            try:
                answer = httpx.post(
                    f"{self.url}/recommend", json={"user_id": next(users), "k": 5}, timeout=10
                )
            except httpx.HTTPError as exc:
                self.errors.append(repr(exc))
                continue
            self.statuses[answer.status_code] += 1
            if answer.status_code == 200:
                self.versions.add(answer.json()["model_version"])

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
