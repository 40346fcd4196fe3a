"""`movierec train`, `export` and `pipeline`: training, the registry and the export."""

from __future__ import annotations

import typer

from movierec.cli import _error_exit, app


def _training_errors() -> tuple[type[Exception], ...]:
    """The domain errors of training, registry and export: one red line, exit 1."""
    from mlflow.exceptions import MlflowException

    from movierec.config import ConfigError
    from movierec.data import DataError
    from movierec.models import ModelError
    from movierec.training import TrainingError
    from movierec.training.evaluate import EvaluationError
    from movierec.training.export import ExportError
    from movierec.training.registry import RegistryError

    return (
        ConfigError,
        DataError,
        ModelError,
        EvaluationError,
        ExportError,
        RegistryError,
        TrainingError,
        MlflowException,
    )


@app.command()
def train(
    resume: bool = typer.Option(
        False, help="Take over candidates already trained on the same data and settings."
    ),
) -> None:
    """Train and evaluate every candidate, register the winner, gate the production alias."""
    from rich.console import Console

    from movierec.config import get_settings
    from movierec.training.report import print_report
    from movierec.training.train import train as run_training

    try:
        settings = get_settings()
        report = run_training(settings, resume=resume)
    except _training_errors() as exc:
        raise _error_exit(exc) from None
    print_report(report, Console())
    if report.production_version is not None:
        typer.echo(
            f"production is version {report.production_version}: `movierec export` puts it in "
            f"{settings.training.export_dir}"
        )


@app.command()
def export() -> None:
    """Export the MLflow version with the production alias to models/production, atomically."""
    from movierec.config import get_settings
    from movierec.training.export import export_production

    try:
        path = export_production(get_settings())
    except _training_errors() as exc:
        raise _error_exit(exc) from None
    typer.echo(f"production bundle exported to {path}")


@app.command()
def pipeline(
    if_missing: bool = typer.Option(
        False, help="Do nothing when a production model is already exported."
    ),
) -> None:
    """Every offline stage: download, process, features, train (with registry and gate), export."""
    from rich.console import Console

    from movierec.config import get_settings
    from movierec.system import has_production_model
    from movierec.training.pipeline import run_pipeline
    from movierec.training.report import print_report

    try:
        settings = get_settings()
        if if_missing and has_production_model(settings):
            typer.echo(f"production model found in {settings.training.export_dir}: nothing to do")
            return
        report = run_pipeline(settings)
    except _training_errors() as exc:
        raise _error_exit(exc) from None
    if report.training is not None:
        print_report(report.training, Console())
        typer.echo(
            f"production version {report.training.production_version} in {report.export_dir}"
        )
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.stage_seconds.items())
    typer.echo(f"pipeline done in {report.total_seconds:.1f} s ({stages})")
