"""Export the `production` model version to the serving directory, atomically.

The version's bundle is downloaded from MLflow into a fresh `models/releases/<version>-<ts>/`
directory, given its version, sealed (a manifest of every file's size and SHA-256, and the
files made read-only) and validated with the checks serving runs at load
(`movierec.artifacts.read_bundle`); only then is `models/production` switched to it by
replacing a symlink with `os.replace`, so serving sees either the old complete bundle or the
new one, never a mixture. A bundle that fails validation is deleted and the old production
stays as it was.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

from movierec.artifacts import (
    METRICS,
    MODEL_METADATA,
    BundleError,
    ModelMetadata,
    read_bundle,
    read_json,
    seal,
    write_json,
)
from movierec.config import Settings
from movierec.training import registry as tracking

RELEASES_DIR = "releases"
# Releases kept besides the one in production, for a quick manual rollback.
KEEP_RELEASES = 3


class ExportError(RuntimeError):
    """No valid production bundle can be exported; the message says what to do."""


def validate_bundle(directory: Path) -> ModelMetadata:
    """Check a bundle as serving will (`read_bundle`) and its metrics.json; return its metadata."""
    try:
        metadata = read_bundle(directory).metadata
        if not (directory / METRICS).is_file():
            raise BundleError(f"{directory}: missing {METRICS}; retrain with `movierec train`")
        read_json(directory / METRICS)
    except (BundleError, OSError, ValueError) as exc:
        raise ExportError(f"bundle {directory} is invalid: {exc}") from exc
    return metadata


def switch_production(release: Path, target: Path) -> None:
    """Point `target` at `release` atomically (a relative symlink swapped by `os.replace`).

    A `target` that is still a real directory (an older layout or a hand-made copy) is first
    moved into the releases directory, so it is kept and the symlink can take its place.
    """
    if target.exists() and not target.is_symlink():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target.rename(release.parent / f"previous-{stamp}")
    link = target.with_name(f".{target.name}.link-{uuid.uuid4().hex[:8]}")
    link.symlink_to(os.path.relpath(release, target.parent), target_is_directory=True)
    link.replace(target)


def _prune(releases: Path, current: Path) -> None:
    """Delete all but the newest KEEP_RELEASES releases besides `current` and any release a
    pointer beside the releases directory (production, the challenger) still names."""
    pointed = {p.resolve() for p in releases.parent.iterdir() if p.is_symlink()}
    others = sorted(
        (
            p
            for p in releases.iterdir()
            if p.is_dir()
            and p != current
            and p.resolve() not in pointed
            and not p.name.startswith(".")
        ),
        key=lambda p: p.stat().st_mtime,
    )
    for old in others[: max(0, len(others) - KEEP_RELEASES)]:
        shutil.rmtree(old, ignore_errors=True)


def export_production(settings: Settings) -> Path:
    """Export the version the production alias names to `training.export_dir`; returns it."""
    names = settings.training.mlflow
    return export_alias(settings, names.production_alias, Path(settings.training.export_dir))


def export_alias(settings: Settings, alias: str, target: Path) -> Path:
    """Export the version `alias` names to `target` (a pointer into the releases beside it)."""
    names = settings.training.mlflow
    client = tracking.tracking_client(names)
    version = tracking.aliased_version(client, names.registered_model_name, alias)
    if version is None:
        raise ExportError(
            f"no version of model {names.registered_model_name!r} has the alias "
            f"{alias!r} in {names.tracking_uri}: run `movierec train` first"
        )
    releases = target.parent / RELEASES_DIR
    releases.mkdir(parents=True, exist_ok=True)
    staging = releases / f".staging-{uuid.uuid4().hex[:8]}"
    try:
        bundle = tracking.download_version(version, staging)
        try:
            metadata = ModelMetadata.model_validate(read_json(bundle / MODEL_METADATA))
        except (OSError, ValueError) as exc:
            raise ExportError(f"bundle {bundle} is invalid: {exc}") from exc
        metadata.version = str(version.version)
        write_json(bundle / MODEL_METADATA, metadata.model_dump())
        seal(bundle)
        validate_bundle(bundle)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        release = releases / f"{version.version}-{stamp}-{uuid.uuid4().hex[:4]}"
        bundle.rename(release)
        switch_production(release, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune(releases, release)
    return target


def withdraw(target: Path) -> None:
    """Remove the pointer `target` (not its release, which pruning deletes later)."""
    if target.is_symlink():
        target.unlink()
