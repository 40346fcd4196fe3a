"""uvicorn's worker supervisor with SIGHUP passed to every worker instead of restarting them.

uvicorn replaces each worker on SIGHUP; a replacement loads whatever bundle is in place, so
a bad release would replace good workers with ones serving nothing. Passed on instead, the
signal makes each worker reload in place (`movierec.api.main`): the bundle is validated
first and a bad one is refused while the old model keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal

from uvicorn.supervisors import Multiprocess

log = logging.getLogger("uvicorn.error")


class ReloadingWorkers(Multiprocess):
    """`Multiprocess` whose SIGHUP asks every worker to reload its model."""

    def handle_hup(self) -> None:
        log.info("Received SIGHUP, asking every worker to reload its model.")
        for worker in self.processes:
            if worker.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGHUP)
