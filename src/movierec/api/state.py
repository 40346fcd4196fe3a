"""The per-process serving state: settings, the request logger, the feedback loop and the
current model.

The current model is one immutable `Served` triple held in a single attribute: the engine,
the pre-encoded JSON of its movies and of its /movies catalogue. A request reads it once, and
a reload validates the new bundle completely and builds all three before one reference
assignment swaps them in, so no
request ever sees half a model and a bad bundle never replaces a good one. A reload also
refuses a bundle trained on another dataset than the one served (a restart switches datasets),
and every load leaves its outcome in `last_reload`, which /health reports.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Literal, NamedTuple

from movierec.api import metrics
from movierec.api.feedback import FeedbackLoop
from movierec.api.logger import RequestLogger
from movierec.api.render import CatalogueJson, MovieJson
from movierec.artifacts import MODEL_METADATA, BundleError
from movierec.config import RetentionSettings, ServingSettings
from movierec.serving.engine import Approximate, Engine
from movierec.serving.loader import LoadedModel, load_bundle
from movierec.store.database import Database

log = logging.getLogger(__name__)


class Served(NamedTuple):
    """The engine of the current model and the JSON of its movies and of its catalogue,
    swapped together."""

    engine: Engine
    movies: MovieJson
    catalogue: CatalogueJson


class ReloadOutcome(NamedTuple):
    """When the last load or reload ran, whether it swapped a model in, and why not."""

    time: datetime
    result: Literal["loaded", "refused"]
    error: str | None


class ServingState:
    """Shared by the routes through `movierec.api.deps`; built by `create_app`, started in
    its lifespan."""

    def __init__(
        self,
        settings: ServingSettings,
        log_database: Database,
        retention: RetentionSettings | None = None,
    ) -> None:
        self.settings = settings
        self.logger = RequestLogger(
            log_database,
            queue_size=settings.log_queue_size,
            batch_size=settings.log_batch_size,
            flush_interval_s=settings.log_flush_interval_s,
            retention=retention,
        )
        self.feedback = FeedbackLoop(log_database, settings)
        self.started_monotonic = time.monotonic()
        self.served: Served | None = None
        # The challenger, when one is exported: it answers `challenger_share` of the users.
        self.challenger: Served | None = None
        self.not_ready_reason = "the service is starting"
        self.last_reload: ReloadOutcome | None = None
        self.log_counters = metrics.LogCounters()
        self._reload_lock = threading.Lock()

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    def reload(self) -> Served:
        """Load and validate the bundle, then swap it in; on `BundleError` keep the old model."""
        with self._reload_lock:
            previous = self.served
            try:
                model = load_bundle(self.settings.model_dir, self.settings.bundle_copy_below_bytes)
                if previous is not None:
                    _same_dataset(previous.engine.model.metadata.dataset, model.metadata.dataset)
            except BundleError as exc:
                if previous is None:
                    self.not_ready_reason = str(exc)
                self.last_reload = ReloadOutcome(datetime.now(UTC), "refused", str(exc))
                metrics.reloaded("refused")
                raise
            served = self._serve(model)
            self.served = served
            self.last_reload = ReloadOutcome(model.loaded_at, "loaded", None)
            metrics.reloaded("loaded")
            metrics.served_version(
                served.engine.version, previous.engine.version if previous else None
            )
            log.info("serving model %s from %s", served.engine.version, model.directory)
            return served

    def reload_challenger(self) -> Served | None:
        """Load the challenger's bundle, or drop the challenger when none is exported; on
        `BundleError` the previous challenger stays."""
        directory = self.settings.challenger_dir
        if not (directory / MODEL_METADATA).is_file():
            self.challenger = None
            return None
        model = load_bundle(directory, self.settings.bundle_copy_below_bytes)
        self.challenger = self._serve(model)
        return self.challenger

    def _serve(self, model: LoadedModel) -> Served:
        """The engine (approximate when `serving.approximate` says so) and encoded JSON of
        a loaded model."""
        approximate = self.settings.approximate
        engine = Engine(
            model,
            self.settings.max_k,
            (
                Approximate(approximate.candidates, approximate.ef_search)
                if approximate.enabled
                else None
            ),
        )
        return Served(engine, MovieJson(model.items), CatalogueJson(model.items))

    def load_or_explain(self) -> None:
        """Startup and SIGHUP: reload, logging (not raising) why the bundle was refused."""
        try:
            self.reload()
        except BundleError as exc:
            current = self.served.engine.version if self.served else "no model"
            log.error("model not (re)loaded, still serving %s: %s", current, exc)


def _same_dataset(served: str, candidate: str) -> None:
    if candidate != served:
        raise BundleError(
            f"the new bundle was trained on {candidate!r} and the service serves {served!r}: "
            "a reload keeps the dataset; restart the API to serve another one"
        )
