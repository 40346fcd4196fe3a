"""The Makefile's stage targets know their prerequisites, from a clean clone on ml-100k.

`make train` on a fresh clone downloads, processes and builds features first; a second
`make process-data` or `make train` runs nothing; a newer config runs its stage again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import real_mirror, requires_ml100k

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500), requires_ml100k]

OUTPUTS = (
    "data/raw/ml-100k/u.data",
    "data/processed/interactions.parquet",
    "data/features/item_features.parquet",
    "models/production/model_metadata.json",
)
# Two candidates keep training short; EASE beats popularity on ml-100k, so it is exported.
SMALL_TRAINING = {
    "MOVIEREC_TRAINING__MODELS": '["popularity", "ease"]',
    "MOVIEREC_TRAINING__BOOTSTRAP_SAMPLES": "100",
}


def _make(clone: Path, target: str) -> list[str]:
    """Run `make target` in `clone`; the `movierec` stages it ran, in order."""
    env = {**os.environ, "MOVIELENS_BASE_URL": str(real_mirror()), **SMALL_TRAINING}
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        ["make", target], cwd=clone, env=env, capture_output=True, text=True, timeout=1200
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return re.findall(r"uv run --frozen movierec (\w+)", result.stdout)


def _mtimes(clone: Path) -> dict[str, int]:
    return {name: (clone / name).stat().st_mtime_ns for name in OUTPUTS}


def test_stage_targets_run_what_is_missing_or_stale_and_nothing_when_current(
    clean_clone: Path,
) -> None:
    assert _make(clean_clone, "train") == ["download", "process", "features", "train", "export"]
    written = _mtimes(clean_clone)

    assert _make(clean_clone, "process-data") == []
    assert _make(clean_clone, "train") == []
    assert _mtimes(clean_clone) == written
    assert _make(clean_clone, "export") == ["export"]

    # A newer training config makes only the model stale; a newer data config, all but the
    # download (which has no input but the mirror).
    os.utime(clean_clone / "configs/training.yaml")
    assert _make(clean_clone, "train") == ["train", "export"]
    os.utime(clean_clone / "configs/data.yaml")
    assert _make(clean_clone, "build-features") == ["process", "features"]
    assert _make(clean_clone, "train") == ["train", "export"]

    # download-data always asks `movierec download`, which fetches only what is missing.
    shutil.rmtree(clean_clone / "data/raw")
    assert _make(clean_clone, "download-data") == ["download"]
    assert _make(clean_clone, "process-data") == ["process"]
