"""Run the API under uvicorn with one worker or several, each building its app from the
settings it is handed.

The settings travel as the app factory's state, pickled into each spawned worker with
uvicorn's config, never through environment variables that a cached `get_settings()` could
have read before them. This module imports nothing heavy: a worker unpickles the factory
before it can answer uvicorn's start-up check, and imports the app only when it builds it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from movierec.config import ServingSettings

if TYPE_CHECKING:
    from fastapi import FastAPI


@dataclass(frozen=True)
class AppFactory:
    """`create_app(settings, store_url)` as a picklable callable (uvicorn's `factory=True`)."""

    settings: ServingSettings
    store_url: str = ""

    def __call__(self) -> FastAPI:
        from movierec.api.main import create_app

        return create_app(self.settings, self.store_url)


def run_server(settings: ServingSettings, store_url: str = "") -> None:
    """Serve until stopped (blocking): the request log in `store_url`, or when it is empty in
    the SQLite file `settings.log_db`; exit status 3 when the server could not start."""
    import uvicorn

    from movierec.api.workers import ReloadingWorkers

    config = uvicorn.Config(
        AppFactory(settings, store_url),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_worker_healthcheck=settings.worker_start_timeout_s,
        access_log=False,
    )
    if settings.workers > 1:
        ReloadingWorkers(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(3)
