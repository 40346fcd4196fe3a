"""`movierec up`, the whole system at once, and `movierec mlflow-ui`."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import typer

from movierec.cli import _error_exit, app
from movierec.cli.training import _training_errors

if TYPE_CHECKING:
    from movierec.config import Settings
    from movierec.training.pipeline import PipelineReport


@app.command("mlflow-ui")
def mlflow_ui(
    port: int | None = typer.Option(None, help="Port (default: training.mlflow.ui_port, 5000)."),
) -> None:
    """MLflow UI over the local tracking store: one web worker, no job runner."""
    import os

    from movierec.config import ConfigError, get_settings
    from movierec.system import mlflow_ui as mlflow_ui_service

    try:
        service = mlflow_ui_service(get_settings().training.mlflow, port=port)
    except ConfigError as exc:
        raise _error_exit(exc) from None
    os.execve(service.command[0], service.command, {**os.environ, **service.env})


def _offline_pipeline(settings: Settings) -> PipelineReport:
    """`run_pipeline`, imported only when `up` trains: MLflow alone takes seconds to import."""
    from movierec.training.pipeline import run_pipeline

    return run_pipeline(settings)


@app.command()
def up(
    retrain: bool = typer.Option(False, help="Run the offline pipeline even if a model exists."),
) -> None:
    """Everything at once: train if needed, then API, frontend, dashboard and MLflow UI.

    The offline pipeline runs only when no production model is exported yet. The services
    listen on 8000 (API), 8502 (frontend), 8501 (dashboard) and 5000 (MLflow UI); each prints
    a line when it answers. Ctrl-C stops them all, at any moment.
    """
    from movierec.config import ConfigError, get_settings
    from movierec.system import ServiceStartError, run_system

    try:
        settings = get_settings()
    except ConfigError as exc:
        raise _error_exit(exc) from None
    try:
        run_system(settings, _offline_pipeline, retrain=retrain)
    except KeyboardInterrupt:
        # A second Ctrl-C still pending when `run_system` gave its handlers back: everything
        # has stopped already, so it is a clean exit, not a traceback.
        return
    except Exception as exc:
        if isinstance(exc, (ServiceStartError, *_training_errors())):
            raise _error_exit(exc) from None
        raise
    finally:
        # Everything has stopped and the process is about to exit: a Ctrl-C still on its way
        # must not end the exit itself with a KeyboardInterrupt (status -2).
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
