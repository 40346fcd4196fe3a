"""The data layer: download, load, preprocess and split MovieLens, and the id vocabularies.

This module holds what every stage of the layer shares: the `DataError` base class (the CLI
turns it into a one-line message) and the atomic replacement of an output directory, so that
a failed stage never leaves half-written output behind.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


class DataError(Exception):
    """A data stage cannot go on; the message names the file or setting and what to do."""


def staging_path(target: Path) -> Path:
    """A fresh hidden path beside `target` to build its next version in (same file system)."""
    return target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")


def replace_directory(staged: Path, target: Path) -> None:
    """Move the fully written `staged` directory to `target`, replacing any previous one.

    Both must be on the same file system (stage next to the target). The old directory is
    renamed aside before the new one moves in, so `target` is always either the old or the
    new complete version, never a mixture.
    """
    if target.exists():
        retired = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        target.rename(retired)
        staged.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staged.rename(target)
