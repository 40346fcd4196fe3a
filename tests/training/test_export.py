"""Bundle validation, the atomic production switch and the no-alias error."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.artifacts import (
    ITEM_WEIGHTS,
    METRICS,
    USER_EMBEDDINGS,
    USER_MAPPING,
    ArtifactBundle,
    ItemRecord,
    ModelMetadata,
    write_json,
)
from movierec.config import Settings
from movierec.models.index import build_index, index_to_bytes
from movierec.models.similarity import shrunk_cosine, similar_items_table
from movierec.training.export import (
    ExportError,
    export_production,
    switch_production,
    validate_bundle,
)

N_USERS, N_ITEMS, DIM = 3, 4, 2


def write_bundle(directory: Path, scorer: str = "item_weights") -> Path:
    """A small valid bundle in `directory`."""
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    items = rng.random((N_ITEMS, DIM)).astype(np.float32)
    user_items = sp.random(N_USERS, N_ITEMS, density=0.5, format="csr", random_state=1)
    bundle = ArtifactBundle(
        metadata=ModelMetadata(
            version="",
            model_name="movie-recommender",
            model_kind="ease",
            scorer="item_weights" if scorer == "item_weights" else "embeddings",
            trained_at="2024-01-01T00:00:00+00:00",
            dataset="ml-100k",
            split_strategy="global_time",
            n_users=N_USERS,
            n_items=N_ITEMS,
            embedding_dim=DIM,
        ),
        user_embeddings=rng.random((N_USERS, DIM)).astype(np.float32),
        item_embeddings=items,
        user_ids=np.array([10, 20, 30]),
        item_ids=np.array([1, 2, 3, 4]),
        items=[ItemRecord(i, f"Movie {i}", 1990, ["Drama"]) for i in range(1, N_ITEMS + 1)],
        user_items=user_items,
        popularity=np.array([3.0, 2.0, 1.0, 0.0]),
        similar_items=similar_items_table(user_items, shrunk_cosine(0.0), 0.0, N_ITEMS),
        item_weights=sp.csr_matrix(rng.random((N_ITEMS, N_ITEMS))),
    )
    bundle.write(directory, index_to_bytes(build_index(items)))
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
    np.save(bundle / USER_EMBEDDINGS, np.full((N_USERS, DIM), np.nan, dtype=np.float32))
    with pytest.raises(ExportError, match=re.escape("user_embeddings.npy: contains NaN")):
        validate_bundle(bundle)


def test_mapping_that_disagrees_with_embeddings_is_refused(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b")
    write_json(bundle / USER_MAPPING, {"10": 0, "20": 1})
    with pytest.raises(
        ExportError,
        match=re.escape("user_mapping.json: indices must be exactly 0..2 (one per row), got 2"),
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
