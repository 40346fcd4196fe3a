"""Every worker follows the production pointer: a thread per worker polls it and reloads.

The pointer is what `serving.model_dir` resolves to (export swaps a symlink to a new
release directory) and the identity of its `model_metadata.json`; a reload request is a
token in a file beside it (`reload_request_file`), which `POST /admin/reload` rewrites
before it reloads its own worker, so that every worker of every replica sharing the
directory reloads, not only the one that answered (which, loaded after the request, skips
it). Within `serving.reload_poll_s` of a change each worker reloads through
`ServingState.reload`, which validates the whole bundle before it swaps anything: a bad
release is refused by every worker (once per change, not at every poll) and the old model
keeps serving. The challenger's directory (`serving.challenger_dir`) is followed the same
way: loaded when it appears, replaced when it changes, dropped when it is withdrawn.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path

from movierec.api.state import ServingState
from movierec.artifacts import MODEL_METADATA, BundleError

log = logging.getLogger(__name__)

Pointer = tuple[str, int, int, str]


def reload_request_file(model_dir: Path) -> Path:
    """The file whose token asks every worker serving `model_dir` to reload."""
    return model_dir.with_name(f".{model_dir.name}.reload")


def request_reload(model_dir: Path) -> bool:
    """Ask every worker serving `model_dir` to reload (a new token, written atomically);
    False, and a logged warning, when the folder is not writable."""
    target = reload_request_file(model_dir)
    staged = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}")
    try:
        staged.write_text(uuid.uuid4().hex)
        staged.replace(target)
    except OSError as exc:
        log.warning("cannot ask the other workers to reload (%s): only this one reloads", exc)
        return False
    return True


def pointer(model_dir: Path) -> Pointer:
    """The release `model_dir` points at, its metadata file's inode and mtime, and the last
    reload request: a change of any of them means "reload"."""
    release = model_dir.resolve()
    try:
        stat = (release / MODEL_METADATA).stat()
        identity = (stat.st_ino, stat.st_mtime_ns)
    except OSError:
        identity = (0, 0)
    try:
        token = reload_request_file(model_dir).read_text()
    except OSError:
        token = ""
    return (str(release), *identity, token)


class ProductionWatcher:
    """Polls the pointer of one worker's `model_dir` and reloads that worker on a change.

    Usage (the app's lifespan)::

        watcher = ProductionWatcher(state, poll_s=2.0)  # before the first load
        state.load_or_explain()
        watcher.start()
        ...
        watcher.stop()
    """

    def __init__(self, state: ServingState, poll_s: float) -> None:
        self.state, self.poll_s = state, poll_s
        self.seen = pointer(state.settings.model_dir)
        self.challenger_seen: Pointer | None = None  # the first check loads the challenger
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="production-watcher", daemon=True)

    def check(self) -> bool | None:
        """Reload if the pointer changed: True when reloaded, False when refused, None when
        nothing changed."""
        current = pointer(self.state.settings.model_dir)
        if current == self.seen:
            return None
        release_changed, self.seen = current[:3] != self.seen[:3], current
        if not release_changed and self._loaded_since_request():
            return None  # the worker that answered the request has reloaded already
        previous = self.state.served.engine.version if self.state.served else "no model"
        try:
            served = self.state.reload()
        except BundleError as exc:
            log.error(
                "worker %d refused %s, still serving %s: %s", os.getpid(), current[0], previous, exc
            )
            return False
        log.warning(
            "worker %d now serves model %s (was %s)", os.getpid(), served.engine.version, previous
        )
        return True

    def check_challenger(self) -> None:
        """Load, replace or drop the challenger when its pointer changed."""
        current = pointer(self.state.settings.challenger_dir)
        if current == self.challenger_seen:
            return
        self.challenger_seen = current
        try:
            served = self.state.reload_challenger()
        except BundleError as exc:
            log.error("worker %d refused challenger %s: %s", os.getpid(), current[0], exc)
            return
        version = served.engine.version if served is not None else "none"
        log.warning("worker %d challenger: %s", os.getpid(), version)

    def _loaded_since_request(self) -> bool:
        served = self.state.served
        try:
            requested = reload_request_file(self.state.settings.model_dir).stat().st_mtime
        except OSError:
            return False
        return served is not None and served.engine.model.loaded_at.timestamp() >= requested

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.poll_s + 5)

    def _run(self) -> None:
        while True:
            try:
                self.check()
                self.check_challenger()
            except Exception:  # a watcher that dies would silently stop following production
                log.exception("worker %d: production watcher check failed", os.getpid())
            if self._stop.wait(self.poll_s):
                return
