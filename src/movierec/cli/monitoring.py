"""`movierec monitor kpis`, `engagement` and `replay`, `simulate` and `dashboard`: monitoring."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from movierec.cli import _error_exit, app

monitor_app = typer.Typer(
    help="Monitoring reports over the request log.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(monitor_app, name="monitor")


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
    log_db: Path | None = typer.Option(
        None, help="Request-log SQLite file (default: store.url, else monitoring.log_db)."
    ),
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
    from movierec.store.database import StoreError

    try:
        settings = get_settings()
        now = datetime.now(UTC)
        report = compute_kpis(
            log_db or settings.store.url or settings.monitoring.log_db,
            parse_moment(since, now) if since else None,
            parse_moment(until, now) if until else None,
            catalogue_size(model_dir or settings.serving.model_dir),
            settings.monitoring.thresholds,
            bucket or settings.monitoring.bucket,
        )
    except (KpiError, TimeParseError, ConfigError, StoreError) as exc:
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
    log_db: Path | None = typer.Option(
        None, help="Request-log SQLite file (default: store.url, else monitoring.log_db)."
    ),
    test_path: Path | None = typer.Option(
        None, help="Held-out split (default: <data.processed_dir>/test.parquet)."
    ),
    model_dir: Path | None = typer.Option(
        None, help="Production bundle, for offline metrics (default: serving.model_dir)."
    ),
) -> None:
    """Precision@k, hit rate@k and offline CTR of logged recommendations, per model version."""
    from datetime import UTC, datetime

    from rich.console import Console

    from movierec.config import ConfigError, get_settings
    from movierec.data.preprocess import PART_FILES
    from movierec.monitoring.log_reader import TimeParseError, parse_moment
    from movierec.monitoring.replay_eval import ReplayError, render_replay, replay_evaluate
    from movierec.store.database import StoreError

    try:
        settings = get_settings()
        report = replay_evaluate(
            log_db or settings.store.url or settings.monitoring.log_db,
            test_path or settings.data.processed_dir / PART_FILES["test"],
            k or settings.monitoring.replay_k,
            model_dir or settings.serving.model_dir,
            since=parse_moment(since, datetime.now(UTC)) if since else None,
        )
    except (ReplayError, TimeParseError, ConfigError, StoreError) as exc:
        raise _error_exit(exc) from None
    if output is ReportFormat.json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render_replay(report, Console(width=140))


@monitor_app.command("engagement")
def monitor_engagement(
    since: str | None = typer.Option(None, help="Only answers since (15m, 1h, 7d or ISO)."),
    until: str | None = typer.Option(None, help="Window end (exclusive), same forms as --since."),
    output: ReportFormat = typer.Option(ReportFormat.table, "--format", help="table or json."),
    log_db: Path | None = typer.Option(
        None, help="Store SQLite file (default: store.url, else monitoring.log_db)."
    ),
) -> None:
    """CTR, rating rate and mean rating of the recommendations, per model version and path."""
    from datetime import UTC, datetime

    from rich.console import Console

    from movierec.config import ConfigError, get_settings
    from movierec.monitoring.engagement import compute_engagement, render_engagement
    from movierec.monitoring.log_reader import TimeParseError, parse_moment
    from movierec.store.database import StoreError

    try:
        settings = get_settings()
        now = datetime.now(UTC)
        report = compute_engagement(
            log_db or settings.store.url or settings.monitoring.log_db,
            parse_moment(since, now) if since else None,
            parse_moment(until, now) if until else None,
        )
    except (TimeParseError, ConfigError, StoreError) as exc:
        raise _error_exit(exc) from None
    if output is ReportFormat.json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render_engagement(report, Console(width=140))


@monitor_app.command("prune")
def monitor_prune(
    log_db: Path | None = typer.Option(
        None, help="Request-log SQLite file (default: store.url, else monitoring.log_db)."
    ),
) -> None:
    """Apply monitoring.retention to the request log once: drop rows past its age and size."""
    from datetime import UTC, datetime

    from movierec.config import ConfigError, get_settings
    from movierec.store.database import StoreError, create_engine
    from movierec.store.retention import prune_request_log
    from movierec.store.schema import upgrade

    try:
        settings = get_settings()
        kept = settings.monitoring.retention
        database = log_db or settings.store.url or settings.monitoring.log_db
        upgrade(database)
        engine = create_engine(database)
        try:
            now = datetime.now(UTC).replace(tzinfo=None)
            deleted = prune_request_log(engine, kept.max_age_days, kept.max_rows, now)
        finally:
            engine.dispose()
    except (ConfigError, StoreError) as exc:
        raise _error_exit(exc) from None
    typer.echo(f"deleted {deleted} request-log rows")


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
    heldout: Path | None = typer.Option(
        None,
        help="Whom to replay and what they watch: a Parquet file of user_id, movie_id and "
        "rating (default: <data.processed_dir>/test.parquet, the held-out split).",
    ),
) -> None:
    """Replay held-out users (plus unknown ids, /similar and /popular) against the API."""
    from rich.console import Console

    from movierec.config import ConfigError, get_settings
    from movierec.data.preprocess import PART_FILES
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
        if heldout is not None and not heldout.is_file():
            raise SimulationError(f"no held-out file {heldout}")
        report = simulate(
            url,
            traffic_sources(
                heldout or settings.data.processed_dir / PART_FILES["test"],
                settings.serving.model_dir,
            ),
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
