"""`python -m movierec.cli`: the `movierec` command line."""

from movierec.cli import app

app()
