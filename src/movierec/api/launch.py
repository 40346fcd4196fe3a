"""Run the API under uvicorn with one worker or several, each building its app from the
settings it is handed.

The settings travel as the app factory's state, pickled into each spawned worker with
uvicorn's config, never through environment variables that a cached `get_settings()` could
have read before them. This module imports nothing heavy: a worker unpickles the factory
before it can answer uvicorn's start-up check, and imports the app only when it builds it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from movierec.config import AuthSettings, RetentionSettings, ServingSettings

if TYPE_CHECKING:
    from fastapi import FastAPI


@dataclass(frozen=True)
class AppFactory:
    """`create_app(settings, store_url, retention, auth)` as a picklable callable (uvicorn's
    `factory=True`)."""

    settings: ServingSettings
    store_url: str = ""
    retention: RetentionSettings | None = None
    auth: AuthSettings = field(default_factory=AuthSettings)

    def __call__(self) -> FastAPI:
        from movierec.api.main import create_app

        return create_app(self.settings, self.store_url, self.retention, self.auth)


@contextlib.contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, a fresh directory for prometheus-client's multiprocess mode (set
    in the environment the workers inherit), removed at the end; an operator's own
    PROMETHEUS_MULTIPROC_DIR is kept."""
    variable = "PROMETHEUS_MULTIPROC_DIR"
    if workers == 1 or os.environ.get(variable):
        yield
        return
    directory = tempfile.mkdtemp(prefix="movierec-metrics-")
    os.environ[variable] = directory
    try:
        yield
    finally:
        del os.environ[variable]
        shutil.rmtree(directory, ignore_errors=True)


def uvicorn_options(settings: ServingSettings) -> dict[str, Any]:
    """uvicorn's connection limits from `serving.limits`, and the protocol that bounds headers."""
    from movierec.api.protocol import GuardedHttpToolsProtocol

    limits = settings.limits
    return {
        "http": functools.partial(
            GuardedHttpToolsProtocol,
            header_timeout=limits.header_timeout,
            max_header_bytes=limits.max_header_bytes,
        ),
        "timeout_keep_alive": limits.timeout_keep_alive,
        "limit_concurrency": limits.limit_concurrency,
        "backlog": limits.backlog,
        "timeout_graceful_shutdown": limits.timeout_graceful_shutdown,
    }


def run_server(
    settings: ServingSettings,
    store_url: str = "",
    retention: RetentionSettings | None = None,
    auth: AuthSettings | None = None,
) -> None:
    """Serve until stopped (blocking): the store in `store_url`, or when it is empty in the
    SQLite file `settings.log_db`, the request log kept as `retention` says; exit status 3
    when the server could not start. A demo without `auth.secret` gets one random secret
    shared by all its workers."""
    import secrets

    import uvicorn
    from pydantic import SecretStr

    from movierec.api.workers import ReloadingWorkers

    auth = auth or AuthSettings()
    if auth.mode == "demo" and not auth.secret.get_secret_value():
        auth = auth.model_copy(update={"secret": SecretStr(secrets.token_urlsafe(32))})
    config = uvicorn.Config(
        AppFactory(settings, store_url, retention, auth),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_worker_healthcheck=settings.worker_start_timeout_s,
        access_log=False,
        **uvicorn_options(settings),
    )
    if settings.workers > 1:
        with _shared_metrics(settings.workers):
            ReloadingWorkers(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(3)
