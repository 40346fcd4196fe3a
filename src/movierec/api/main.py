"""The FastAPI app: `create_app` factory and lifespan; the routes are in `movierec.api.routes`.

Run it with `movierec serve` or `uvicorn movierec.api.main:create_app --factory`. The model is
loaded in the lifespan, never at import. /recommend, /similar and /popular are `async def`:
their numpy work takes microseconds on the event loop, less than a hop to the thread pool
would cost (see benchmarks/serving.py); /admin/reload is a plain `def` because loading a
bundle blocks for as long as reading it takes.

Decisions: /health answers 503 with `status: "not_ready"` and a `reason` while no model is
loaded (200 with `status: "ok"` otherwise), so load balancers and the frontend read the same
thing. A reload that finds a bad bundle answers 409 and the previous model keeps serving.
/docs (Swagger UI) and /redoc load their scripts and styles from the API itself (the assets
`fastapi-offline` ships, under /static-offline-docs), so they work with no internet access.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import faiss
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from threadpoolctl import threadpool_limits

from movierec.api import metrics
from movierec.api.access import Accounts
from movierec.api.errors import install_error_handlers
from movierec.api.middleware import RequestLogMiddleware
from movierec.api.routes import (
    admin,
    auth,
    feedback,
    health,
    model,
    movies,
    popular,
    recommend,
    similar,
    users,
)
from movierec.api.routes import metrics as metrics_route
from movierec.api.state import ServingState
from movierec.api.watcher import ProductionWatcher
from movierec.config import AuthSettings, RetentionSettings, ServingSettings, get_settings
from movierec.endpoints import ROUTES
from movierec.store.schema import upgrade

ROUTERS = (
    health,
    recommend,
    similar,
    popular,
    movies,
    feedback,
    users,
    model,
    admin,
    auth,
    metrics_route,
)
# How often each worker publishes its request-log counters to /metrics.
LOG_METRICS_INTERVAL_S = 1.0


def _listen_for_sighup(state: ServingState) -> bool:
    """Reload on SIGHUP (in a worker thread); False where signals cannot be caught here."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(
            signal.SIGHUP, lambda: loop.run_in_executor(None, state.load_or_explain)
        )
    except (ValueError, RuntimeError, NotImplementedError):
        return False  # not the main thread (e.g. TestClient) or no SIGHUP on this platform
    return True


async def _publish_log_counters(state: ServingState) -> None:
    while True:
        state.log_counters.update(state.logger.stats())
        await asyncio.sleep(LOG_METRICS_INTERVAL_S)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Migrate the store, start the logger and the feedback loop, load the model, watch the
    production pointer, listen for SIGHUP, publish the log's counters; on exit write every
    queued event and log row."""
    state: ServingState = app.state.serving
    # One request's numpy/FAISS work is far too small to split; extra BLAS and OpenMP threads
    # only contend with the event loop (they cut /recommend throughput by two thirds).
    faiss.omp_set_num_threads(1)
    blas_limit = threadpool_limits(limits=1, user_api="blas")
    watcher = ProductionWatcher(state, state.settings.reload_poll_s)
    # Migrated once before the writers start together: two first migrations racing on a new
    # SQLite file would collide switching it to WAL.
    await asyncio.to_thread(upgrade, state.logger.database)
    # Each writer starts a process and waits while it imports; the model loads meanwhile.
    await asyncio.gather(
        asyncio.to_thread(state.logger.start),
        asyncio.to_thread(state.feedback.start),
        asyncio.to_thread(state.load_or_explain),
    )
    watcher.start()
    listening = _listen_for_sighup(state)
    publisher = asyncio.create_task(_publish_log_counters(state))
    try:
        yield
    finally:
        watcher.stop()
        publisher.cancel()
        blas_limit.restore_original_limits()
        if listening:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        await asyncio.to_thread(state.feedback.stop)
        await asyncio.to_thread(state.logger.stop)
        metrics.process_exited()
        app.state.accounts.close()


def create_app(
    settings: ServingSettings | None = None,
    store_url: str = "",
    retention: RetentionSettings | None = None,
    auth_settings: AuthSettings | None = None,
) -> FastAPI:
    """Build the app; `settings`, `store_url`, `retention` and `auth_settings` default to
    `get_settings()`'s `serving`, `store.url`, `monitoring.retention` and `auth` (configs + env
    vars); given `settings` alone, accounts run in demo mode. The store (request log, feedback
    events, accounts) is `store_url`, or when it is empty the SQLite file `settings.log_db`.
    `ConfigError` when required mode has no secret."""
    if settings is None:
        configured = get_settings()
        settings, store_url = configured.serving, configured.store.url
        retention = configured.monitoring.retention
        auth_settings = configured.auth
    app = FastAPIOffline(
        title="movierec",
        summary="Movie recommendations from the production model",
        lifespan=lifespan,
    )
    app.state.serving = ServingState(settings, store_url or settings.log_db, retention)
    app.state.accounts = Accounts(auth_settings or AuthSettings(), store_url or settings.log_db)
    for routes in ROUTERS:
        app.include_router(routes.router)
    app.add_middleware(
        RequestLogMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics.RequestMetrics(set(ROUTES)),
    )
    install_error_handlers(app)
    return app
