"""The `retrainer` service: `movierec retrain` on a schedule, and `/health` showing its runs.

Every `retrain.interval_s` seconds (and once at start) it counts the feedback events newer
than the merge watermark; when there are at least `retrain.min_new_events` it runs
`movierec retrain` as a child process (a crash or an out-of-memory kill of a run then
cannot take the service down, and the run's lock dies with it). Before that, with
`retrain.auto_promote`, each check decides on the challenger by its online result
(`movierec.pipeline.promotion.decide_challenger`: promote, withdraw or wait), under the same
lock, and writes the decision to `retrain.promotion_file`. While that decision is to wait
for the challenger's impressions, no run starts (a run would replace the challenger, so
steady feedback would keep every challenger from being promoted) until the challenger has
waited `retrain.challenger_max_wait_s` since its registration. `GET /health` answers the
schedule, the last check (with why it did not retrain, or that it replaces a challenger that
waited too long), the last run (`retrain.status_file`: result, error, version) and the last
promotion decision (what, which version, when, why).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from movierec.config import Settings
from movierec.endpoints import HEALTH
from movierec.pipeline.data_merge import MergeError, count_new_events
from movierec.pipeline.promotion import PromotionDecision, decide_challenger
from movierec.pipeline.retrain import (
    RetrainBusyError,
    exclusive,
    feedback_database,
    read_status,
    write_status,
)

log = logging.getLogger(__name__)


class Scheduler:
    """Checks for new events on a timer and runs retraining in a child process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.running = False
        self.last_check: dict[str, Any] | None = None
        self.next_check_at = time.time()
        self.exit_code: int | None = None

    def check(self) -> None:
        """Decide on the challenger (with `auto_promote`), then count the new events and
        retrain when there are enough and no challenger is still collecting impressions."""
        config = self.settings.retrain
        decision = self.decide() if config.auto_promote else None
        try:
            pending = count_new_events(feedback_database(self.settings), config.feedback_dir)
        except MergeError as exc:
            self.last_check = {"time": time.time(), "new_events": None, "error": str(exc)}
            return
        due = pending >= config.min_new_events
        checked: dict[str, Any] = {"time": time.time(), "new_events": pending, "retrain": due}
        self.last_check = checked
        if not due or self.held_back(decision, checked):
            return
        self.running = True
        try:
            command = [sys.executable, "-m", "movierec.cli", "retrain"]
            self.exit_code = subprocess.run(command, check=False).returncode
        finally:
            self.running = False

    def held_back(self, decision: PromotionDecision | None, checked: dict[str, Any]) -> bool:
        """True when the challenger is still waiting for its impressions and has not waited
        `challenger_max_wait_s` yet: a run would replace it. Either way `checked` (the last
        check) says so."""
        if decision is None or decision.decision != "waiting":
            return False
        config = self.settings.retrain
        waited = time.time() - (decision.since or 0.0)
        progress = f"{decision.impressions} of {config.min_impressions}"
        limit = f"retrain.challenger_max_wait_s={config.challenger_max_wait_s:.0f}"
        if waited < config.challenger_max_wait_s:
            checked["retrain"] = False
            checked["waiting"] = (
                f"waiting for the challenger's impressions: {progress} "
                f"(version {decision.version}, {waited:.0f} s of {limit})"
            )
            return True
        checked["replacing"] = (
            f"challenger version {decision.version} has {progress} impressions after "
            f"{waited:.0f} s, longer than {limit}: a new run may replace it"
        )
        return False

    def decide(self) -> PromotionDecision | None:
        """Promote, withdraw or keep the challenger and record the decision (returned; None
        without a challenger or a decision); a run holding the lock defers it to the next
        check."""
        config = self.settings.retrain
        try:
            with exclusive(config.lock_file):
                decision = decide_challenger(self.settings)
        except RetrainBusyError:
            return None
        except Exception as exc:  # an unreachable store, a failed export: the next check retries
            log.exception("promotion decision failed")
            failed = {"decision": "failed", "version": None, "time": time.time()}
            write_status(
                config.promotion_file, {**failed, "reason": f"{type(exc).__name__}: {exc}"}
            )
            return None
        if decision is not None:
            log.warning(
                "challenger %s %s: %s", decision.version, decision.decision, decision.reason
            )
            write_status(config.promotion_file, decision.to_dict())
        return decision

    def loop(self) -> None:
        """Check now, then every `interval_s`, until `stop` is set."""
        while not self.stop.is_set():
            self.check()
            self.next_check_at = time.time() + self.settings.retrain.interval_s
            self.stop.wait(self.settings.retrain.interval_s)

    def health(self) -> dict[str, Any]:
        """What `/health` answers."""
        config = self.settings.retrain
        return {
            "status": "ok",
            "interval_s": config.interval_s,
            "min_new_events": config.min_new_events,
            "auto_promote": config.auto_promote,
            "min_impressions": config.min_impressions,
            "challenger_max_wait_s": config.challenger_max_wait_s,
            "running": self.running,
            "next_check_at": self.next_check_at,
            "last_check": self.last_check,
            "last_exit_code": self.exit_code,
            "last_run": read_status(config.status_file),
            "last_promotion": read_status(config.promotion_file),
        }


def create_app(settings: Settings) -> FastAPI:
    """The retrainer's app: the scheduler runs in a thread for the app's lifetime."""
    scheduler = Scheduler(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(target=scheduler.loop, name="retrainer", daemon=True)
        thread.start()
        try:
            yield
        finally:
            scheduler.stop.set()

    app = FastAPI(title="movierec retrainer", lifespan=lifespan)

    @app.get(HEALTH)
    async def health() -> dict[str, Any]:
        """The schedule, the last check for new events, the last run and the last
        promotion decision."""
        return scheduler.health()

    return app


def run_retrainer(settings: Settings) -> None:
    """Serve the retrainer until stopped (blocking)."""
    import uvicorn

    config = settings.retrain
    uvicorn.run(create_app(settings), host=config.host, port=config.port, access_log=False)
