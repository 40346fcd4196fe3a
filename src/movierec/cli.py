"""The `movierec` command line: one command per pipeline stage and per service.

Each command is a thin wrapper over a plain function that the tests call directly.
Run `movierec --help` or `movierec COMMAND --help`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="movie-recommender: MovieLens to served, monitored recommendations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
monitor_app = typer.Typer(help="Monitoring reports over the request log.", no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")


# --- offline pipeline -------------------------------------------------------------------

# --- serving ----------------------------------------------------------------------------

# --- frontend ---------------------------------------------------------------------------

# --- monitoring -------------------------------------------------------------------------

# --- whole system -----------------------------------------------------------------------


if __name__ == "__main__":
    app()
