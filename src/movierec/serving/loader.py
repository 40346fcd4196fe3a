"""Load a production bundle into an immutable `LoadedModel` for the engine.

`movierec.artifacts.read_bundle` validates everything before anything is served (the same
checks export runs before it switches production) and raises `BundleError` naming the file
and the command that rebuilds the bundle. It resolves the `production` symlink once and reads
every file of that one release, checked against the release's manifest. Files up to
`copy_below_bytes` are copied into memory (an edit or truncation of a released file cannot
reach the served model); larger arrays, dense and sparse, are memory-mapped so that several
worker processes share the same pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from movierec.artifacts import COPY_BELOW_BYTES, BundleContents, read_bundle


@dataclass(frozen=True)
class LoadedModel(BundleContents):
    """A validated bundle and when it was loaded; never mutated, so a reload swaps it whole."""

    loaded_at: datetime


def load_bundle(directory: Path, copy_below_bytes: int = COPY_BELOW_BYTES) -> LoadedModel:
    """Validate and load the bundle in `directory`; raise `BundleError` on any problem."""
    contents = read_bundle(directory, copy_below_bytes)
    return LoadedModel(**vars(contents), loaded_at=datetime.now(UTC))
