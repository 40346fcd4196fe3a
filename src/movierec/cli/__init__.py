"""The `movierec` command line: one command per pipeline stage and per service.

Each command is a thin wrapper over a plain function that the tests call directly.
Run `movierec --help` or `movierec COMMAND --help`. The commands live in one module per
group (data, training, serving, monitoring, system, accounts); importing them registers them
on `app`.
"""

from __future__ import annotations

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


def _error_exit(error: Exception) -> typer.Exit:
    """Print a domain or config error as one red line; the caller raises the returned Exit(1)."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, soft_wrap=True).print(Text(f"error: {error}", style="red"))
    return typer.Exit(1)


# Importing the command modules registers them on `app`, in this order (the order of --help).
from movierec.cli import data, training, serving, monitoring, system  # noqa: E402, F401, I001
from movierec.cli import retraining  # noqa: E402, F401
from movierec.cli import accounts  # noqa: E402, F401
