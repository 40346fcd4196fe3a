"""Run the API under uvicorn with one worker or several, each building its app from the
settings it is handed.

The settings travel as the app factory's state, pickled into each spawned worker with
uvicorn's config, never through environment variables that a cached `get_settings()` could
have read before them. This module imports nothing heavy: a worker unpickles the factory
before it can answer uvicorn's start-up check, and imports the app only when it builds it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from movierec.config import AuthSettings, ServingSettings

if TYPE_CHECKING:
    from fastapi import FastAPI


@dataclass(frozen=True)
class AppFactory:
    """`create_app(settings, store_url, auth)` as a picklable callable (uvicorn's
    `factory=True`)."""

    settings: ServingSettings
    store_url: str = ""
    auth: AuthSettings = field(default_factory=AuthSettings)

    def __call__(self) -> FastAPI:
        from movierec.api.main import create_app

        return create_app(self.settings, self.store_url, self.auth)


def run_server(
    settings: ServingSettings, store_url: str = "", auth: AuthSettings | None = None
) -> None:
    """Serve until stopped (blocking): the store in `store_url`, or when it is empty in the
    SQLite file `settings.log_db`; exit status 3 when the server could not start. A demo
    without `auth.secret` gets one random secret shared by all its workers."""
    import secrets

    import uvicorn
    from pydantic import SecretStr
    from uvicorn.supervisors import Multiprocess

    auth = auth or AuthSettings()
    if auth.mode == "demo" and not auth.secret.get_secret_value():
        auth = auth.model_copy(update={"secret": SecretStr(secrets.token_urlsafe(32))})
    config = uvicorn.Config(
        AppFactory(settings, store_url, auth),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_worker_healthcheck=settings.worker_start_timeout_s,
        access_log=False,
    )
    if settings.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(3)
