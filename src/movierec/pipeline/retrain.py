"""`movierec retrain`: merge feedback, preprocess, train, evaluate, register a challenger.

One run, under an exclusive lock (`retrain.lock_file`, an `flock` the kernel releases when
the process dies, so a crashed run never blocks the next): the feedback events since the
watermark are merged (`movierec.pipeline.data_merge`), the dataset is preprocessed with the
merged feedback applied (its pairs always in the train part, never held out, so the
challenger is fitted on them and is evaluated on the original held-out interactions),
features are rebuilt, and training runs with its paired gate moving
the `challenger` alias (never `production`) when the candidate passes, and that version is
exported to `retrain.challenger_export_dir`, where serving answers a share of users with it
(`serving.challenger_share`). Promotion is a
separate step (`movierec.pipeline.promotion`: by hand, or by the retrainer once the
challenger's online result is in), so a failed or refused run leaves the champion and what
serving serves untouched. Each run's outcome is written to
`retrain.status_file`, which the retrainer's `/health` and the dashboard show.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from movierec.config import Settings
from movierec.data.download import download_dataset
from movierec.data.preprocess import run_preprocess
from movierec.features.build import run_build_features
from movierec.pipeline.data_merge import (
    FeedbackStore,
    apply_feedback,
    feedback_ratings,
    run_merge,
)
from movierec.store.database import Database
from movierec.training.export import export_alias
from movierec.training.train import train

Outcome = Literal["challenger", "refused", "failed", "skipped"]


class RetrainBusyError(RuntimeError):
    """Another retraining run holds the lock; the message names it."""


@dataclass
class RetrainStatus:
    """One run as `/health` of the retrainer shows it (`status_file`)."""

    result: Outcome
    started_at: float
    finished_at: float
    seconds: float
    new_events: int = 0
    model_version: str | None = None
    winner: str | None = None
    gate_reason: str | None = None
    error: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def feedback_database(settings: Settings) -> Database:
    """Where the feedback events are: `store.url`, else the API's SQLite file."""
    return settings.store.url or settings.serving.log_db


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold `lock_file` exclusively for the block; RetrainBusyError if a run holds it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RetrainBusyError(
                f"a retraining run is already in progress ({holder}, lock {lock_file}); "
                "wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Write a status file atomically (a temp file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    staged.write_text(json.dumps(status, indent=2) + "\n")
    staged.replace(path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The last run's status, or None before the first run (or if the file is unreadable)."""
    try:
        status: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return status


def retrain(settings: Settings, console: Console | None = None) -> RetrainStatus:
    """One locked run (see the module docstring); its status is returned and written, a
    failure included (then re-raised, the champion untouched)."""
    console = console or Console(stderr=True)
    config = settings.retrain
    with exclusive(config.lock_file):
        started = time.time()
        status = RetrainStatus("failed", started, started, 0.0)
        stages: dict[str, float] = status.stage_seconds

        def timed(stage: str, begin: float) -> None:
            stages[stage] = round(time.perf_counter() - begin, 3)

        try:
            begin = time.perf_counter()
            merged = run_merge(feedback_database(settings), config.feedback_dir)
            status.new_events = merged.new_events
            feedback = feedback_ratings(
                FeedbackStore(config.feedback_dir).state(), config.event_ratings
            )
            timed("merge", begin)
            begin = time.perf_counter()
            dataset = download_dataset(settings.data, quiet_if_present=True)
            run_preprocess(
                settings.data,
                dataset,
                amend=lambda r: apply_feedback(r, feedback),
                keep_in_train=feedback,
            )
            run_build_features(settings.data)
            timed("process", begin)
            begin = time.perf_counter()
            report = train(settings, console, alias=config.challenger_alias)
            if report.gate.promote:
                export_alias(settings, config.challenger_alias, config.challenger_export_dir)
            timed("train", begin)
            status.result = "challenger" if report.gate.promote else "refused"
            status.model_version, status.winner = report.model_version, report.winner
            status.gate_reason = report.gate.reason
        except Exception as exc:
            status.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            status.finished_at = time.time()
            status.seconds = round(status.finished_at - started, 3)
            write_status(config.status_file, status.to_dict())
    return status
