"""`movierec download`, `process` and `features`: the data stages."""

from __future__ import annotations

import typer

from movierec.cli import _error_exit, app


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
