"""The whole system in one command: train when needed, then run every service together.

`movierec up` (and `make up`) runs the offline pipeline only when no production model is
exported yet (or with `--retrain`) and prints which model won. It then starts the API, the
frontend, the monitoring dashboard and the MLflow UI, each as a child process in its own
process group, prints one line per service as it answers its health check, and stops every
group on Ctrl-C (at any moment, start-up included), on SIGTERM, or when a required service
dies. The MLflow UI is optional: when it is not up in `system.mlflow_ui_timeout_s`, the rest
keeps running and the line says how to start it later.
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

if TYPE_CHECKING:
    from movierec.training.pipeline import PipelineReport
    from movierec.training.train import TrainingReport

console = Console()

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
    """A started service and its process (the leader of the service's process group)."""

    service: Service
    process: subprocess.Popen[bytes]


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
    """The four services with the ports and start timeouts of `settings`."""
    serving, timeout_s = settings.serving, settings.system.start_timeout_s
    api_url = f"http://{serving.host}:{serving.port}"
    cli = [sys.executable, "-m", "movierec.cli"]
    return [
        Service("API", [*cli, "serve"], api_url, "/health", timeout_s),
        Service(
            "Frontend",
            [*cli, "frontend"],
            f"http://127.0.0.1:{settings.frontend.port}",
            "/_stcore/health",
            timeout_s,
            env={"MOVIEREC_API_URL": api_url},
        ),
        Service(
            "Dashboard",
            [*cli, "dashboard"],
            f"http://127.0.0.1:{settings.monitoring.dashboard_port}",
            "/_stcore/health",
            timeout_s,
        ),
        mlflow_ui(settings.training.mlflow, settings.system.mlflow_ui_timeout_s),
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


def _log_path(log_dir: Path, service: Service) -> Path:
    return log_dir / f"{service.name.lower().replace(' ', '_')}.log"


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


def stop_all(processes: list[subprocess.Popen[bytes]], grace_s: float = 10.0) -> None:
    """Stop each process and its group: SIGTERM to the leader, which shuts its own children
    down (the API flushes its request log), then SIGKILL to the whole group after `grace_s`
    for whatever is left. A Ctrl-C meanwhile does not cut this short."""
    with _stop_signals_held():
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


def _wait_until_up(running: list[Running], log_dir: Path, grace_s: float) -> list[Running]:
    """Poll every service until it answers and print a line for each; return those up.

    A required service that exits or misses its timeout raises ServiceStartError; an optional
    one is stopped and the line says how to start it later.
    """
    started = time.monotonic()
    pending, up = list(running), []
    while pending:
        for entry in list(pending):
            service, process = entry
            seconds = time.monotonic() - started
            if process.poll() is not None:
                problem = f"exited with code {process.returncode} at start (is its port taken?)"
            elif _answers(service):
                console.print(f"{service.name:<10} {service.url:<26} up in {seconds:.0f} s")
                pending.remove(entry)
                up.append(entry)
                continue
            elif seconds > service.timeout_s:
                problem = f"did not answer {service.health_path} in {service.timeout_s:.0f} s"
            else:
                continue
            pending.remove(entry)
            log = _log_path(log_dir, service)
            if service.start_later is None:
                raise ServiceStartError(f"{service.name} {problem}; see {log}:\n{_last_lines(log)}")
            stop_all([process], grace_s)
            console.print(
                f"[yellow]{service.name} {problem}; everything else keeps running. Start it "
                f"later with `{service.start_later}` (log: {log})."
            )
        time.sleep(0.3)
    return up


def start_all(to_start: list[Service], log_dir: Path, grace_s: float = 10.0) -> list[Running]:
    """Start every service, each in its own process group with output to `log_dir/<name>.log`,
    and return them once each answers (optional ones that did not are left out).

    A required service that fails stops them all (ServiceStartError); so does an interruption
    at any moment, which is then raised again.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    running: list[Running] = []
    try:
        for service in to_start:
            with _stop_signals_held() as received, _log_path(log_dir, service).open("wb") as log:
                process = subprocess.Popen(
                    service.command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **service.env},
                    start_new_session=True,
                )
                running.append(Running(service, process))
            if received:
                signal.raise_signal(received[0])
        return _wait_until_up(running, log_dir, grace_s)
    except BaseException:
        stop_all([entry.process for entry in running], grace_s)
        raise


def _watch(running: list[Running], log_dir: Path) -> None:
    """Block until a required service stops (ServiceStartError); an optional one that stops is
    said once."""
    watched = list(running)
    while True:
        for entry in list(watched):
            service, process = entry
            if process.poll() is None:
                continue
            message = f"{service.name} stopped with code {process.returncode}; see {log_dir}/"
            if service.start_later is None:
                raise ServiceStartError(message)
            console.print(f"[yellow]{message}. Start it again with `{service.start_later}`.")
            watched.remove(entry)
        time.sleep(0.5)


def _stop_on_signal(signum: int, frame: object) -> None:
    """The first Ctrl-C or SIGTERM stops the system; later ones are ignored (a terminal and
    `uv run` each deliver Ctrl-C, so two arrive at once)."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise KeyboardInterrupt


def run_system(
    settings: Settings,
    pipeline: Callable[[Settings], PipelineReport],
    log_dir: Path = Path("data/logs"),
    retrain: bool = False,
) -> None:
    """Train if needed, start every service, and block until Ctrl-C, SIGTERM or a required
    service dies; whatever was started is stopped, whenever that happens."""
    grace_s = settings.system.stop_grace_s
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    # Explicit handlers: a process started in the background inherits SIGINT as ignored.
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_on_signal)
    running: list[Running] = []
    try:
        ensure_production_model(settings, pipeline, retrain)
        started = time.monotonic()
        running = start_all(services(settings), log_dir, grace_s)
        urls = {entry.service.name: entry.service.url for entry in running}
        console.print(
            f"[bold]movie-recommender is up[/bold] in {time.monotonic() - started:.0f} s: open "
            f"{urls['Frontend']} (API docs at {urls['API']}/docs). Logs in {log_dir}/. "
            "Ctrl-C stops everything."
        )
        _watch(running, log_dir)
    except KeyboardInterrupt:
        console.print("Stopping every service...")
    finally:
        for signum in STOP_SIGNALS:  # stopping now: no second interruption
            signal.signal(signum, signal.SIG_IGN)
        stop_all([entry.process for entry in running], grace_s)
        console.print("All services stopped.")
        for signum, handler in previous.items():
            signal.signal(signum, handler)
