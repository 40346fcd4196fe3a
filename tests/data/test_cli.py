"""`movierec download | process | features` as a user runs them: real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from movierec.cli import app
from movierec.config import get_settings

MOVIEREC = Path(sys.executable).with_name("movierec")


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOVIEREC_", "MOVIELENS_"))}
    env["MOVIEREC_CONFIG_DIR"] = str(cwd / "configs")
    return subprocess.run(
        [str(MOVIEREC), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _configure(root: Path, mirror: Path, checksums: dict[str, str]) -> None:
    (root / "configs").mkdir(parents=True)
    data = {"base_url": str(mirror), "checksums": {"ml-100k": checksums}}
    (root / "configs/data.yaml").write_text(yaml.safe_dump({"data": data}))


def test_stages_run_in_order(
    tmp_path: Path,
    synthetic_mirror: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In process (the CLI app itself) to keep it fast; the error test below spawns one."""
    _configure(tmp_path, *synthetic_mirror)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(tmp_path / "configs"))
    monkeypatch.delenv("MOVIELENS_BASE_URL", raising=False)
    get_settings.cache_clear()
    outputs = {}
    try:
        for stage in ("download", "process", "features"):
            result = CliRunner().invoke(app, [stage])
            assert result.exit_code == 0, result.output
            outputs[stage] = result.stdout
    finally:
        get_settings.cache_clear()

    assert (tmp_path / "data/raw/ml-100k/u.data").is_file()
    assert (tmp_path / "data/processed/train.csv").is_file()
    assert "users evaluable" in outputs["process"]
    assert "item_features.csv" in outputs["features"]


def test_a_data_error_is_one_red_line(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    _configure(tmp_path, synthetic_mirror[0], {**synthetic_mirror[1], "u.data": "0" * 64})

    result = _run(tmp_path, "download")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "SHA-256 of u.data" in last


@pytest.mark.parametrize("command", ["download", "process", "features"])
def test_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])

    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert f" {command} [OPTIONS]" in result.output
