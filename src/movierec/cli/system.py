"""`movierec up`: the whole system at once."""

from __future__ import annotations

import typer

from movierec.cli import _error_exit, app
from movierec.cli.training import _training_errors


@app.command()
def up(
    retrain: bool = typer.Option(False, help="Run the offline pipeline even if a model exists."),
) -> None:
    """Everything at once: train if needed, then API, frontend, dashboard and MLflow UI.

    The offline pipeline runs only when no production model is exported yet. The services
    listen on 8000 (API), 8502 (frontend), 8501 (dashboard) and 5000 (MLflow UI); Ctrl-C
    stops them all.
    """
    from movierec.config import get_settings
    from movierec.system import ServiceStartError, run_system
    from movierec.training.pipeline import run_pipeline

    failures: tuple[type[Exception], ...] = (*_training_errors(), ServiceStartError)
    try:
        settings = get_settings()
        if retrain:
            run_pipeline(settings)
        run_system(settings, run_pipeline)
    except failures as exc:
        raise _error_exit(exc) from None
