"""The `movierec` command line: one command per pipeline stage and per service.

Each command is a thin wrapper over a plain function that the tests call directly.
Run `movierec --help` or `movierec COMMAND --help`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

# Plain Click help (rich_markup_mode=None): Typer's rich panels print a `<bool>` type beside
# every flag, --help included, as if flags took a value.
app = typer.Typer(
    help="movie-recommender: MovieLens to served, monitored recommendations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
monitor_app = typer.Typer(
    help="Monitoring reports over the request log.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(monitor_app, name="monitor")


# --- offline pipeline -------------------------------------------------------------------


def _error_exit(error: Exception) -> typer.Exit:
    """Print a domain or config error as one red line; the caller raises the returned Exit(1)."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, soft_wrap=True).print(Text(f"error: {error}", style="red"))
    return typer.Exit(1)


@app.command()
def download() -> None:
    """Download (or read from the MOVIELENS_BASE_URL mirror), extract and verify the dataset."""
    from movierec.config import ConfigError, get_settings
    from movierec.data import DataError
    from movierec.data.download import download_dataset

    try:
        download_dataset(get_settings().data)
    except (DataError, ConfigError) as exc:
        raise _error_exit(exc) from None


@app.command()
def process() -> None:
    """Clean, filter, weight and split the ratings into data/processed/ (downloads if needed)."""
    from movierec.config import ConfigError, get_settings
    from movierec.data import DataError
    from movierec.data.preprocess import run_preprocess

    try:
        settings = get_settings().data
        report = run_preprocess(settings)
    except (DataError, ConfigError) as exc:
        raise _error_exit(exc) from None
    parts = ", ".join(
        f"{name} {counts['rows']} rows"
        + (f" ({counts['evaluable_users']} users evaluable)" if "evaluable_users" in counts else "")
        for name, counts in report.splits.items()
    )
    duplicates = report.exact_duplicates + report.duplicate_pairs
    typer.echo(
        f"{report.dataset}: {report.rows} interactions, {report.users} users, {report.items} "
        f"items ({report.malformed_rows} malformed, {duplicates} duplicates, "
        f"{report.filtered_rows} filtered); {report.split_strategy}: {parts}; "
        f"written to {settings.processed_dir}"
    )


@app.command()
def features() -> None:
    """Build item features (genres, year, rating counts) from the processed data."""
    from movierec.config import ConfigError, get_settings
    from movierec.data import DataError
    from movierec.features.build import run_build_features

    try:
        path = run_build_features(get_settings().data)
    except (DataError, ConfigError) as exc:
        raise _error_exit(exc) from None
    typer.echo(f"item features written to {path}")


def _training_errors() -> tuple[type[Exception], ...]:
    """The domain errors of training, registry and export: one red line, exit 1."""
    from mlflow.exceptions import MlflowException

    from movierec.config import ConfigError
    from movierec.data import DataError
    from movierec.models import ModelError
    from movierec.training.evaluate import EvaluationError
    from movierec.training.export import ExportError
    from movierec.training.mlflow_utils import RegistryError
    from movierec.training.train import TrainingError

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
def train() -> None:
    """Train and evaluate every candidate, register the winner, gate it and export production."""
    from rich.console import Console

    from movierec.config import get_settings
    from movierec.training.train import print_report
    from movierec.training.train import train as run_training

    try:
        report = run_training(get_settings())
    except _training_errors() as exc:
        raise _error_exit(exc) from None
    print_report(report, Console())


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
    from movierec.training.train import print_report

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
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.stage_seconds.items())
    typer.echo(f"pipeline done in {report.total_seconds:.1f} s ({stages})")


# --- serving ----------------------------------------------------------------------------


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default: serving.host)."),
    port: int | None = typer.Option(None, help="Port (default: serving.port, 8000)."),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes (default: serving.workers)."
    ),
    model_dir: str | None = typer.Option(
        None, help="Production bundle directory (default: serving.model_dir)."
    ),
    log_db: str | None = typer.Option(
        None, help="Request-log SQLite file (default: serving.log_db)."
    ),
) -> None:
    """The recommendation API (uvicorn); starts without a model and reloads on SIGHUP."""
    from pydantic import ValidationError

    from movierec.api.launch import run_server
    from movierec.config import ConfigError, ServingSettings, get_settings

    given = dict(host=host, port=port, workers=workers, model_dir=model_dir, log_db=log_db)
    try:
        current = get_settings().serving.model_dump()
        settings = ServingSettings.model_validate(
            {**current, **{key: value for key, value in given.items() if value is not None}}
        )
    except (ConfigError, ValidationError) as exc:
        raise _error_exit(exc) from None
    run_server(settings)


# --- frontend ---------------------------------------------------------------------------


@app.command()
def frontend(
    port: int | None = typer.Option(None, help="Port to serve on (default: frontend.port, 8502)."),
    api_url: str | None = typer.Option(
        None, help="Address of the API (default: MOVIEREC_API_URL or frontend.api_url)."
    ),
) -> None:
    """Streamlit frontend on port 8502, talking to the recommendation API."""
    from movierec.config import ConfigError, get_settings
    from movierec.streamlit_app import FRONTEND_APP, exec_streamlit

    try:
        settings = get_settings().frontend
    except ConfigError as exc:
        raise _error_exit(exc) from None
    exec_streamlit(
        FRONTEND_APP, port or settings.port, {"MOVIEREC_API_URL": api_url or settings.api_url}
    )


# --- monitoring -------------------------------------------------------------------------


class ReportFormat(StrEnum):
    table = "table"
    json = "json"


@monitor_app.command("kpis")
def monitor_kpis(
    since: str | None = typer.Option(
        None, help="Window start: a duration before now (15m, 1h, 7d) or an ISO time (UTC)."
    ),
    until: str | None = typer.Option(None, help="Window end (exclusive), same forms as --since."),
    output: ReportFormat = typer.Option(ReportFormat.table, "--format", help="table or json."),
    bucket: str | None = typer.Option(None, help="Time bucket (default: monitoring.bucket)."),
    log_db: Path | None = typer.Option(None, help="Request log (default: monitoring.log_db)."),
    model_dir: Path | None = typer.Option(
        None, help="Production bundle, for the catalogue size (default: serving.model_dir)."
    ),
) -> None:
    """Traffic, latency percentiles, fallbacks, coverage and alerts from the request log."""
    from datetime import UTC, datetime

    from rich.console import Console

    from movierec.config import ConfigError, get_settings
    from movierec.monitoring.bundle_info import catalogue_size
    from movierec.monitoring.kpis import KpiError, compute_kpis, render_kpis
    from movierec.monitoring.log_reader import TimeParseError, parse_moment

    try:
        settings = get_settings()
        now = datetime.now(UTC)
        report = compute_kpis(
            log_db or settings.monitoring.log_db,
            parse_moment(since, now) if since else None,
            parse_moment(until, now) if until else None,
            catalogue_size(model_dir or settings.serving.model_dir),
            settings.monitoring.thresholds,
            bucket or settings.monitoring.bucket,
        )
    except (KpiError, TimeParseError, ConfigError) as exc:
        raise _error_exit(exc) from None
    if output is ReportFormat.json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render_kpis(report, Console(width=120))


@monitor_app.command("replay")
def monitor_replay(
    k: int | None = typer.Option(None, help="Cut-off k (default: monitoring.replay_k)."),
    since: str | None = typer.Option(None, help="Only requests since (15m, 1h, 7d or ISO)."),
    output: ReportFormat = typer.Option(ReportFormat.table, "--format", help="table or json."),
    log_db: Path | None = typer.Option(None, help="Request log (default: monitoring.log_db)."),
    test_path: Path | None = typer.Option(
        None, help="Held-out split (default: <data.processed_dir>/test.csv)."
    ),
    model_dir: Path | None = typer.Option(
        None, help="Production bundle, for offline metrics (default: serving.model_dir)."
    ),
) -> None:
    """Precision@k, hit rate@k and offline CTR of logged recommendations, per model version."""
    from datetime import UTC, datetime

    from rich.console import Console

    from movierec.config import ConfigError, get_settings
    from movierec.monitoring.log_reader import TimeParseError, parse_moment
    from movierec.monitoring.replay_eval import ReplayError, render_replay, replay_evaluate

    try:
        settings = get_settings()
        report = replay_evaluate(
            log_db or settings.monitoring.log_db,
            test_path or settings.data.processed_dir / "test.csv",
            k or settings.monitoring.replay_k,
            model_dir or settings.serving.model_dir,
            since=parse_moment(since, datetime.now(UTC)) if since else None,
        )
    except (ReplayError, TimeParseError, ConfigError) as exc:
        raise _error_exit(exc) from None
    if output is ReportFormat.json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render_replay(report, Console(width=140))


@app.command()
def simulate(
    rate: float | None = typer.Option(None, help="Requests per second (default: config)."),
    duration: float | None = typer.Option(None, help="Seconds to run at most (default: config)."),
    max_requests: int | None = typer.Option(None, help="Requests to send at most."),
    api_url: str | None = typer.Option(
        None, help="API address (default: MOVIEREC_API_URL or frontend.api_url)."
    ),
    allow_remote: bool = typer.Option(False, help="Allow a non-loopback API address."),
    seed: int = typer.Option(0, help="Seed of the request mix."),
) -> None:
    """Replay held-out users (plus unknown ids, /similar and /popular) against the API."""
    from rich.console import Console

    from movierec.config import ConfigError, get_settings
    from movierec.monitoring.simulator import (
        SimulationError,
        check_loopback,
        render_simulation,
        simulate,
        traffic_sources,
    )

    try:
        settings = get_settings()
        mix = settings.monitoring.simulator
        url = api_url or settings.frontend.api_url
        check_loopback(url, allow_remote)  # before reading any data
        report = simulate(
            url,
            traffic_sources(settings.data.processed_dir / "test.csv", settings.serving.model_dir),
            rate or mix.rate,
            duration or mix.duration_s,
            max_requests or mix.max_requests,
            mix,
            seed=seed,
            allow_remote=allow_remote,
        )
    except (SimulationError, ConfigError) as exc:
        raise _error_exit(exc) from None
    render_simulation(report, Console(width=120))
    if report.served == 0:
        raise typer.Exit(1)


@app.command()
def dashboard(
    port: int | None = typer.Option(None, help="Port (default: monitoring.dashboard_port, 8501)."),
) -> None:
    """Monitoring dashboard (Streamlit) over the request log, on port 8501."""
    from movierec.config import ConfigError, get_settings
    from movierec.streamlit_app import DASHBOARD_APP, exec_streamlit

    try:
        settings = get_settings().monitoring
    except ConfigError as exc:
        raise _error_exit(exc) from None
    exec_streamlit(
        DASHBOARD_APP,
        port or settings.dashboard_port,
        {"MOVIEREC_MONITORING__LOG_DB": str(settings.log_db)},
    )


# --- whole system -----------------------------------------------------------------------


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


if __name__ == "__main__":
    app()
