"""The whole system in one command: train when needed, then run every service together.

`movierec up` (and `make up`) runs the offline pipeline only when no production model is
exported yet (or with `--retrain`) and prints which model won. It then starts the API, the
frontend, the monitoring dashboard, the MLflow UI and the retrainer (`movierec retrain` on a
schedule), each as a child process in its own process group, prints one line per service as
it answers its health check, and stops every group on Ctrl-C (at any moment, start-up
included), on SIGTERM, or when a required service dies. The MLflow UI and the retrainer are
optional: when one is not up in its start time (the MLflow UI's is
`system.mlflow_ui_timeout_s`), the rest keeps running and the line says how to start it later.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import httpx
from rich.console import Console

from movierec.artifacts import MODEL_METADATA
from movierec.config import MlflowSettings, Settings
from movierec.endpoints import HEALTH

if TYPE_CHECKING:
    from movierec.training.pipeline import PipelineReport
    from movierec.training.report import TrainingReport

console = Console(soft_wrap=True)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(KeyboardInterrupt):
    """A Ctrl-C or SIGTERM reached `run_system`; caught wherever a KeyboardInterrupt is.

    A subclass on purpose: CPython 3.11 ends the process with SIGINT (status -2) after a plain
    KeyboardInterrupt that was raised inside `exec` or `eval` of a string (as a dataclass or
    named tuple defined by a module imported late does), even when the program caught it.
    """


class ServiceStartError(RuntimeError):
    """A required service did not start, or stopped while the system ran; the message names it."""


@dataclass(frozen=True)
class Service:
    """One child process: how to start it, how to tell that it is up, and whether it is needed.

    `start_later` is set for an optional service: the command that starts it by hand when it
    does not come up. A service without it is required: its failure stops the system.
    """

    name: str
    command: list[str]
    url: str
    health_path: str
    timeout_s: float = 120.0
    env: dict[str, str] = field(default_factory=dict)
    start_later: str | None = None


class Running(NamedTuple):
    """A started service, its process (the leader of its process group) and when it started."""

    service: Service
    process: subprocess.Popen[bytes]
    started: float


def mlflow_ui(mlflow: MlflowSettings, timeout_s: float = 120.0, port: int | None = None) -> Service:
    """`mlflow server` as a light, local UI over the tracking store: one web worker, no job runner.

    MLflow 3 starts 4 uvicorn workers and a background job runner with workers of its own by
    default; each process spends many seconds of CPU importing MLflow, and on a busy machine
    the workers miss uvicorn's 5 s health check and restart in a loop. Browsing runs and the
    registry needs neither: a single worker runs without that supervisor.
    """
    port = port or mlflow.ui_port
    command = [sys.executable, "-m", "mlflow", "server", "--workers", "1"]
    command += ["--backend-store-uri", mlflow.tracking_uri]
    command += ["--default-artifact-root", str(mlflow.artifact_location)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    return Service(
        "MLflow UI",
        command,
        f"http://127.0.0.1:{port}",
        "/health",
        timeout_s=timeout_s,
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        start_later="make mlflow-ui",
    )


def services(settings: Settings) -> list[Service]:
    """The services with the ports and start timeouts of `settings`; the MLflow UI and the
    retrainer are optional."""
    serving, timeout_s = settings.serving, settings.system.start_timeout_s
    api_url = f"http://{serving.host}:{serving.port}"
    mlflow_url = f"http://127.0.0.1:{settings.training.mlflow.ui_port}"
    cli = [sys.executable, "-m", "movierec.cli"]
    return [
        Service("API", [*cli, "serve"], api_url, HEALTH, timeout_s),
        Service(
            "Frontend",
            [*cli, "frontend"],
            f"http://127.0.0.1:{settings.frontend.port}",
            "/_stcore/health",
            timeout_s,
            env={
                "MOVIEREC_API_URL": api_url,
                "MOVIEREC_FRONTEND__PUBLIC_API_URL": api_url,
                "MOVIEREC_FRONTEND__MLFLOW_URL": mlflow_url,
            },
        ),
        Service(
            "Dashboard",
            [*cli, "dashboard"],
            f"http://127.0.0.1:{settings.monitoring.dashboard_port}",
            "/_stcore/health",
            timeout_s,
        ),
        mlflow_ui(settings.training.mlflow, settings.system.mlflow_ui_timeout_s),
        Service(
            "Retrainer",
            [*cli, "retrainer"],
            f"http://{settings.retrain.host}:{settings.retrain.port}",
            HEALTH,
            timeout_s,
            start_later="movierec retrainer",
        ),
    ]


def has_production_model(settings: Settings) -> bool:
    """True when an exported production bundle is in place."""
    return (settings.training.export_dir / MODEL_METADATA).is_file()


def training_summary(report: TrainingReport) -> str:
    """One line: the winner's held-out score beside popularity's, and the gate's decision."""
    metric = report.selection_metric
    winner, popularity = (
        report.candidates[kind].test.mean(metric) for kind in (report.winner, "popularity")
    )
    decision = (
        "promoted to production" if report.gate.promote else f"not promoted ({report.gate.reason})"
    )
    return (
        f"Trained: {report.winner} won with test {metric} {winner:.4f} "
        f"(popularity {popularity:.4f}); version {report.model_version} {decision}."
    )


def ensure_production_model(
    settings: Settings, pipeline: Callable[[Settings], PipelineReport], retrain: bool = False
) -> bool:
    """Run `pipeline` when no production model exists (or `retrain`); True when it ran."""
    if has_production_model(settings) and not retrain:
        console.print(f"Production model found in {settings.training.export_dir}: not retraining.")
        return False
    reason = "Retraining" if retrain else "No production model yet"
    console.print(f"{reason}: running the offline pipeline (about a minute on two free cores).")
    report = pipeline(settings)
    if report.training is not None:
        console.print(training_summary(report.training))
    return True


def _last_lines(path: Path, count: int = 5) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    return "\n".join(lines[-count:])


def _answers(service: Service) -> bool:
    """True once the service answers its health path (the API says 503 until a model loads:
    any answer means the process is up)."""
    try:
        httpx.get(service.url + service.health_path, timeout=2.0)
    except httpx.HTTPError:
        return False
    return True


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[list[int]]:
    """Record SIGINT and SIGTERM during the block instead of acting on them.

    Used where an interruption would lose a child: between starting a process and recording
    it, and while stopping them all. Only the main thread can set signal handlers.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, _frame: received.append(signum))
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_all(processes: list[subprocess.Popen[bytes]], grace_s: float = 10.0) -> list[int]:
    """Stop each process and its group: SIGTERM to the leader, which shuts its own children
    down (the API flushes its request log), then SIGKILL to the whole group after `grace_s`
    for whatever is left. A Ctrl-C meanwhile does not cut this short; the stop signals that
    arrived are returned, for a caller that goes on running to act on."""
    with _stop_signals_held() as received:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for process in processes:
            # Each child leads its own session, so its pid is its process group id.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # SIGKILL takes effect asynchronously: give the rest of each group a moment to go.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and any(_group_exists(p.pid) for p in processes):
            time.sleep(0.02)
    return received


def _group_exists(pgid: int) -> bool:
    """True while process group `pgid` has a member (an unreaped zombie counts)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member this process may not signal
        return True
    return True


class Supervisor:
    """Starts services as child process groups, waits until they answer, watches them, and
    stops every one when the `with` block ends, whatever ends it (Ctrl-C included).

    Usage, as in `run_system`::

        with Supervisor(Path("data/logs"), settings.system.stop_grace_s) as supervisor:
            supervisor.start(services(settings))
            supervisor.wait_until_up()  # the required services answer
            supervisor.watch()  # until one of them stops
    """

    def __init__(self, log_dir: Path, grace_s: float = 10.0) -> None:
        self.log_dir, self.grace_s = log_dir, grace_s
        self.running: list[Running] = []  # every process started, until the block ends
        self.starting: list[Running] = []  # those that have not answered yet
        self.up: list[Running] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop_all([entry.process for entry in self.running], self.grace_s)
        if self.running:
            console.print("All services stopped.")

    def start(self, to_start: list[Service]) -> None:
        """Start every service, each in its own session (so its own process group), output to
        `log_dir/<name>.log`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in to_start:
            with _stop_signals_held() as received, self._log(service).open("wb") as log:
                process = subprocess.Popen(
                    service.command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **service.env},
                    start_new_session=True,
                )
                entry = Running(service, process, time.monotonic())
                self.running.append(entry)
                self.starting.append(entry)
            if received:  # now that the process is recorded, act on the signal
                signal.raise_signal(received[0])

    def wait_until_up(self, optional: bool = False) -> None:
        """Block until every required service (with `optional`, every one) answers or, if
        optional, failed; a line says each. A required one that fails: ServiceStartError."""
        while any(optional or entry.service.start_later is None for entry in self.starting):
            self._poll_starting()
            time.sleep(0.3)

    def watch(self) -> None:
        """Block until a required service stops (ServiceStartError), going on waiting for the
        optional ones still starting; an optional one that stops is said once."""
        while True:
            self._poll_starting()
            for entry in list(self.up):
                service, process, _ = entry
                if process.poll() is None:
                    continue
                message = f"{service.name} stopped with code {process.returncode}"
                message += f"; see {self._log(service)}"
                if service.start_later is None:
                    raise ServiceStartError(message)
                console.print(f"[yellow]{message}. Start it again with `{service.start_later}`.")
                self.up.remove(entry)
            time.sleep(0.5)

    def _log(self, service: Service) -> Path:
        return self.log_dir / f"{service.name.lower().replace(' ', '_')}.log"

    def _poll_starting(self) -> None:
        """Look once at each service still starting: up, still starting, or failed."""
        for entry in list(self.starting):
            service, process, started = entry
            seconds = time.monotonic() - started
            if process.poll() is not None:
                problem = f"exited with code {process.returncode} at start (is its port taken?)"
            elif _answers(service):
                console.print(f"{service.name:<10} {service.url:<26} up in {seconds:.0f} s")
                self.starting.remove(entry)
                self.up.append(entry)
                continue
            elif seconds > service.timeout_s:
                problem = f"did not answer {service.health_path} in {service.timeout_s:.0f} s"
            else:
                continue
            self.starting.remove(entry)
            log = self._log(service)
            if service.start_later is None:
                raise ServiceStartError(f"{service.name} {problem}; see {log}:\n{_last_lines(log)}")
            interrupted = stop_all([process], self.grace_s)
            console.print(
                f"[yellow]{service.name} {problem}; everything else keeps running. Start it "
                f"later with `{service.start_later}` (log: {log})."
            )
            if interrupted:  # a Ctrl-C while it was being stopped stops everything
                signal.raise_signal(interrupted[0])


def _stop_on_signal(signum: int, frame: object) -> None:
    """The first Ctrl-C or SIGTERM stops the system; later ones are ignored (a terminal and
    `uv run` each deliver Ctrl-C, so two arrive at once)."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise StopRequested


def _say_up(supervisor: Supervisor, seconds: float) -> None:
    urls = {entry.service.name: entry.service.url for entry in supervisor.up}
    still = ", ".join(entry.service.name for entry in supervisor.starting)
    console.print(
        f"[bold]movie-recommender is up[/bold] in {seconds:.0f} s: open {urls['Frontend']} "
        f"(API docs at {urls['API']}/docs)"
        + (f"; still starting: {still}" if still else "")
        + f". Logs in {supervisor.log_dir}/. Ctrl-C stops everything."
    )


def run_system(
    settings: Settings,
    pipeline: Callable[[Settings], PipelineReport],
    log_dir: Path = Path("data/logs"),
    retrain: bool = False,
) -> None:
    """Train if needed, start every service, and block until Ctrl-C, SIGTERM or a required
    service dies; whatever was started is stopped, whenever that happens."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    # Explicit handlers: a process started in the background inherits SIGINT as ignored.
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_on_signal)
    try:
        ensure_production_model(settings, pipeline, retrain)
        with Supervisor(log_dir, settings.system.stop_grace_s) as supervisor:
            try:
                started = time.monotonic()
                supervisor.start(services(settings))
                supervisor.wait_until_up()
                _say_up(supervisor, time.monotonic() - started)
                supervisor.watch()
            except KeyboardInterrupt:
                console.print("Stopping every service...")
    except KeyboardInterrupt:
        console.print("Interrupted before any service started.")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
