"""Bundle validation, the atomic production switch and the no-alias error."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from movierec.artifacts import (
    ITEM_WEIGHTS,
    METRICS,
    USER_EMBEDDINGS,
    USER_MAPPING,
    write_json,
    write_manifest,
)
from movierec.config import Settings
from movierec.training.export import (
    ExportError,
    export_production,
    switch_production,
    validate_bundle,
)
from tests.bundles import build_synthetic_bundle

N_USERS, N_ITEMS = 120, 90  # of tests.synthetic.generate()


def write_bundle(directory: Path) -> Path:
    """A valid item-weights bundle with its metrics.json in `directory`."""
    build_synthetic_bundle(directory, scorer="item_weights")
    write_json(directory / METRICS, {"candidates": {}})
    return directory


def test_a_valid_bundle_passes(tmp_path: Path) -> None:
    metadata = validate_bundle(write_bundle(tmp_path / "b"))
    assert (metadata.n_users, metadata.n_items) == (N_USERS, N_ITEMS)


def test_missing_file_is_named(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b")
    (bundle / ITEM_WEIGHTS).unlink()
    with pytest.raises(ExportError, match=re.escape("missing item_weights.npz")):
        validate_bundle(bundle)


def test_nan_embeddings_are_refused(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b")
    embeddings = np.load(bundle / USER_EMBEDDINGS)
    embeddings[0, 0] = np.nan
    np.save(bundle / USER_EMBEDDINGS, embeddings)
    write_manifest(bundle)
    with pytest.raises(ExportError, match=re.escape("user_embeddings.npy: contains NaN")):
        validate_bundle(bundle)


def test_mapping_that_disagrees_with_embeddings_is_refused(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b")
    write_json(bundle / USER_MAPPING, {"10": 0, "20": 1})
    write_manifest(bundle)
    with pytest.raises(
        ExportError,
        match=re.escape("user_mapping.json: indices must be exactly 0..119 (one per row), got 2"),
    ):
        validate_bundle(bundle)


def test_switch_replaces_a_symlink_and_keeps_a_real_directory(tmp_path: Path) -> None:
    releases = tmp_path / "models/releases"
    first, second = write_bundle(releases / "1-a"), write_bundle(releases / "2-b")
    target = tmp_path / "models/production"
    target.mkdir()
    (target / "hand-made.txt").write_text("old layout")

    switch_production(first, target)
    assert target.is_symlink() and target.resolve() == first.resolve()
    kept = [p for p in releases.iterdir() if p.name.startswith("previous-")]
    assert len(kept) == 1 and (kept[0] / "hand-made.txt").read_text() == "old layout"

    switch_production(second, target)
    assert target.resolve() == second.resolve()
    assert not [p for p in target.parent.iterdir() if ".link-" in p.name]


def test_export_without_production_alias_says_to_train(synthetic_settings: Settings) -> None:
    with pytest.raises(ExportError, match="run `movierec train` first"):
        export_production(synthetic_settings)


@pytest.mark.e2e
def test_cli_export_without_alias_prints_one_red_line(tmp_path: Path) -> None:
    env = {
        "MOVIEREC_TRAINING__MLFLOW__TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "MOVIEREC_TRAINING__MLFLOW__ARTIFACT_LOCATION": str(tmp_path / "mlartifacts"),
        "MOVIEREC_TRAINING__EXPORT_DIR": str(tmp_path / "models/production"),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "movierec.cli", "export"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "movierec train" in errors[0]
