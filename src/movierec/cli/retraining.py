"""`movierec retrain`, `retrainer`, `promote` and `rollback`: retraining and the aliases."""

from __future__ import annotations

import typer

from movierec.cli import _error_exit, app
from movierec.cli.training import _training_errors


def _retraining_errors() -> tuple[type[Exception], ...]:
    from movierec.pipeline.data_merge import MergeError
    from movierec.pipeline.promotion import PromotionError
    from movierec.pipeline.retrain import RetrainBusyError
    from movierec.store.database import StoreError

    return (*_training_errors(), MergeError, PromotionError, RetrainBusyError, StoreError)


@app.command()
def retrain() -> None:
    """Merge feedback, preprocess, train, evaluate; the winner becomes `challenger` if it
    passes the paired gate. Production is never touched (see `movierec promote`)."""
    from movierec.config import get_settings
    from movierec.pipeline.retrain import retrain as run_retrain

    try:
        settings = get_settings()
        status = run_retrain(settings)
    except _retraining_errors() as exc:
        raise _error_exit(exc) from None
    alias = settings.retrain.challenger_alias
    outcome = f"is {alias}" if status.result == "challenger" else "NOT registered as challenger"
    typer.echo(
        f"retrained in {status.seconds:.1f} s on {status.new_events} new events: version "
        f"{status.model_version} ({status.winner}) {outcome}: {status.gate_reason}"
    )


@app.command()
def retrainer() -> None:
    """The retraining service: `movierec retrain` every retrain.interval_s when at least
    retrain.min_new_events arrived, and the challenger promoted or withdrawn by its online
    result (retrain.auto_promote); GET /health shows the last run and decision."""
    from movierec.config import ConfigError, get_settings
    from movierec.pipeline.retrainer import run_retrainer

    try:
        settings = get_settings()
    except ConfigError as exc:
        raise _error_exit(exc) from None
    run_retrainer(settings)


REASON = typer.Option(..., help="Why, recorded as an MLflow tag of the version.")
VERSION = typer.Option(None, help="The version to move production to.")


@app.command()
def promote(
    reason: str = REASON,
    version: str | None = VERSION,
    force: bool = typer.Option(False, help="Skip the online comparison with the champion."),
) -> None:
    """Make the challenger (or --version) production and export it; workers follow. The
    challenger needs retrain.min_impressions online and rates no worse than the champion's."""
    from movierec.config import get_settings
    from movierec.pipeline.promotion import promote as run_promote

    try:
        move = run_promote(get_settings(), reason, version, force)
    except _retraining_errors() as exc:
        raise _error_exit(exc) from None
    typer.echo(f"production is version {move.version} (was {move.previous}), in {move.export_dir}")


@app.command()
def rollback(reason: str = REASON, version: str | None = VERSION) -> None:
    """Put back the previous production version (or --version) and export it."""
    from movierec.config import get_settings
    from movierec.pipeline.promotion import rollback as run_rollback

    try:
        move = run_rollback(get_settings(), reason, version)
    except _retraining_errors() as exc:
        raise _error_exit(exc) from None
    typer.echo(f"production is version {move.version} again (was {move.previous})")
