"""The whole system in one command: train when needed, then run every service together.

`movierec up` (and `make up`) runs the offline pipeline only when no production model is
exported yet, then starts the API, the frontend, the monitoring dashboard and the MLflow UI
as child processes, waits until each answers its health check, prints their addresses and
stops them all cleanly on Ctrl-C (or when one of them dies).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from movierec.artifacts import MODEL_METADATA
from movierec.config import Settings
from movierec.endpoints import HEALTH

console = Console()


class ServiceStartError(RuntimeError):
    """A service did not start, or stopped while the system ran; the message names it."""


@dataclass(frozen=True)
class Service:
    """One child process: how to start it and how to tell that it is up."""

    name: str
    command: list[str]
    url: str
    health_path: str
    env: dict[str, str] = field(default_factory=dict)


def services(settings: Settings) -> list[Service]:
    """The four services with the ports of `settings`."""
    python = sys.executable
    serving, mlflow = settings.serving, settings.training.mlflow
    api_url = f"http://{serving.host}:{serving.port}"
    frontend_url = f"http://127.0.0.1:{settings.frontend.port}"
    dashboard_url = f"http://127.0.0.1:{settings.monitoring.dashboard_port}"
    mlflow_url = f"http://127.0.0.1:{mlflow.ui_port}"
    cli = [python, "-m", "movierec.cli"]
    return [
        Service("API", [*cli, "serve"], api_url, HEALTH),
        Service(
            "Frontend",
            [*cli, "frontend"],
            frontend_url,
            "/_stcore/health",
            env={"MOVIEREC_API_URL": api_url, "MOVIEREC_FRONTEND__PUBLIC_API_URL": api_url},
        ),
        Service("Dashboard", [*cli, "dashboard"], dashboard_url, "/_stcore/health"),
        Service(
            "MLflow UI",
            [
                python,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                mlflow.tracking_uri,
                "--default-artifact-root",
                str(mlflow.artifact_location),
                "--host",
                "127.0.0.1",
                "--port",
                str(mlflow.ui_port),
            ],
            mlflow_url,
            "/health",
        ),
    ]


def has_production_model(settings: Settings) -> bool:
    """True when an exported production bundle is in place."""
    return (settings.training.export_dir / MODEL_METADATA).is_file()


def ensure_production_model(settings: Settings, pipeline: Callable[[Settings], object]) -> bool:
    """Run `pipeline` unless a production model exists; True when it ran."""
    if has_production_model(settings):
        console.print(f"Production model found in {settings.training.export_dir}: not retraining.")
        return False
    console.print("No production model yet: running the offline pipeline (about a minute).")
    pipeline(settings)
    return True


def _log_path(log_dir: Path, service: Service) -> Path:
    return log_dir / f"{service.name.lower().replace(' ', '_')}.log"


def _last_lines(path: Path, count: int = 5) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    return "\n".join(lines[-count:])


def _wait_healthy(
    service: Service, process: subprocess.Popen[bytes], timeout_s: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceStartError(
                f"{service.name} exited with code {process.returncode} at start (is its port "
                f"taken? see {log_path}):\n{_last_lines(log_path)}"
            )
        try:
            # The API answers 503 until a model is loaded: any answer means the process is up.
            httpx.get(service.url + service.health_path, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise ServiceStartError(
        f"{service.name} did not answer {service.health_path} in {timeout_s:.0f} s; "
        f"see {log_path}"
    )


def stop_all(processes: list[subprocess.Popen[bytes]], timeout_s: float = 10.0) -> None:
    """SIGTERM every child (so the API flushes its log), then SIGKILL what is left."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_all(
    to_start: list[Service], log_dir: Path, timeout_s: float = 120.0
) -> list[subprocess.Popen[bytes]]:
    """Start every service, output to `log_dir/<name>.log`; stop them all if one fails."""
    log_dir.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for service in to_start:
            with _log_path(log_dir, service).open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        service.command,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**os.environ, **service.env},
                        start_new_session=True,
                    )
                )
        for service, process in zip(to_start, processes, strict=True):
            _wait_healthy(service, process, timeout_s, _log_path(log_dir, service))
    except BaseException:
        stop_all(processes)
        raise
    return processes


def _print_addresses(to_start: list[Service], log_dir: Path) -> None:
    table = Table(title="movie-recommender is up", show_header=True)
    table.add_column("service")
    table.add_column("address")
    for service in to_start:
        table.add_row(service.name, service.url)
    table.add_row("API docs", to_start[0].url + "/docs")
    console.print(table)
    console.print(f"Logs in {log_dir}/. Press Ctrl-C to stop everything.")


def run_system(
    settings: Settings, pipeline: Callable[[Settings], object], log_dir: Path = Path("data/logs")
) -> None:
    """Train if needed, start all services, and block until Ctrl-C or a service dies."""
    ensure_production_model(settings, pipeline)
    to_start = services(settings)
    processes = start_all(to_start, log_dir)
    _print_addresses(to_start, log_dir)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Explicit handlers: a process started in the background inherits SIGINT as ignored.
    signal.signal(signal.SIGINT, _terminate)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        while True:
            for service, process in zip(to_start, processes, strict=True):
                if process.poll() is not None:
                    raise ServiceStartError(
                        f"{service.name} stopped with code {process.returncode}; see {log_dir}/"
                    )
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("Stopping every service...")
    finally:
        # A second Ctrl-C (terminals and `uv run` both deliver one) must not cut the shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(processes)
        console.print("All services stopped.")
