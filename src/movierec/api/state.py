"""The per-process serving state: settings, the request logger, the feedback loop and the
current model.

The current model is one immutable `Served` pair held in a single attribute: the engine and
the pre-encoded JSON of its catalogue. A request reads it once, and a reload validates the new
bundle completely and builds both before one reference assignment swaps them in, so no
request ever sees half a model and a bad bundle never replaces a good one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import NamedTuple

from movierec.api.feedback import FeedbackLoop
from movierec.api.logger import RequestLogger
from movierec.api.render import MovieJson
from movierec.artifacts import BundleError
from movierec.config import ServingSettings
from movierec.serving.engine import Engine
from movierec.serving.loader import load_bundle
from movierec.store.database import Database

log = logging.getLogger(__name__)


class Served(NamedTuple):
    """The engine of the current model and the JSON of its movies, swapped together."""

    engine: Engine
    movies: MovieJson


class ServingState:
    """Shared by the routes through `movierec.api.deps`; built by `create_app`, started in
    its lifespan."""

    def __init__(self, settings: ServingSettings, log_database: Database) -> None:
        self.settings = settings
        self.logger = RequestLogger(
            log_database,
            queue_size=settings.log_queue_size,
            batch_size=settings.log_batch_size,
            flush_interval_s=settings.log_flush_interval_s,
        )
        self.feedback = FeedbackLoop(log_database, settings)
        self.started_monotonic = time.monotonic()
        self.served: Served | None = None
        self.not_ready_reason = "the service is starting"
        self._reload_lock = threading.Lock()

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    def reload(self) -> Served:
        """Load and validate the bundle, then swap it in; on `BundleError` keep the old model."""
        with self._reload_lock:
            try:
                model = load_bundle(self.settings.model_dir)
            except BundleError as exc:
                if self.served is None:
                    self.not_ready_reason = str(exc)
                raise
            served = Served(Engine(model, self.settings.max_k), MovieJson(model.items))
            self.served = served
            log.info("serving model %s from %s", served.engine.version, self.settings.model_dir)
            return served

    def load_or_explain(self) -> None:
        """Startup and SIGHUP: reload, logging (not raising) why the bundle was refused."""
        try:
            self.reload()
        except BundleError as exc:
            current = self.served.engine.version if self.served else "no model"
            log.error("model not (re)loaded, still serving %s: %s", current, exc)
