"""`movierec ...` as a user runs it: the data stages, help screens and configuration errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from movierec.cli import app
from movierec.config import get_settings
from tests.servers import free_port

MOVIEREC = Path(sys.executable).with_name("movierec")
BAD_LIST = {"MOVIEREC_TRAINING__MODELS": "popularity,als"}


def _run(cwd: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOVIEREC_", "MOVIELENS_"))}
    env["MOVIEREC_CONFIG_DIR"] = str(cwd / "configs")
    return subprocess.run(
        [str(MOVIEREC), *args],
        cwd=cwd,
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The argument paths of `command` and of every command below it (groups included)."""
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*path, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))
# Commands, not the groups they sit in (a group answers a usage message).
LEAF_COMMANDS = [
    path
    for path in COMMANDS
    if path and not any(other[: len(path)] == path and other != path for other in COMMANDS)
]
# Options a command cannot run without (the bad setting must still be what it answers).
REQUIRED = {
    ("promote",): ["--reason", "test"],
    ("rollback",): ["--reason", "test"],
    ("keys", "create"): ["a-service", "--scope", "admin"],
    ("keys", "revoke"): ["1"],
}


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
    outputs, messages = {}, {}
    try:
        for stage in ("download", "process", "features", "download"):
            result = CliRunner().invoke(app, [stage])
            assert result.exit_code == 0, result.output
            outputs[stage], messages[stage] = result.stdout, result.stderr
    finally:
        get_settings.cache_clear()

    assert (tmp_path / "data/raw/ml-100k/u.data").is_file()
    assert (tmp_path / "data/processed/train.parquet").is_file()
    assert "users evaluable" in outputs["process"]
    assert "item_features.parquet" in outputs["features"]
    # the data already in place is the download stage's news, not the later stages'
    assert "already there, nothing to do" in messages["download"]
    assert "ml-100k: " not in messages["process"] + messages["features"]


def test_a_data_error_is_one_red_line(
    tmp_path: Path, synthetic_mirror: tuple[Path, dict[str, str]]
) -> None:
    _configure(tmp_path, synthetic_mirror[0], {**synthetic_mirror[1], "u.data": "0" * 64})

    result = _run(tmp_path, "download")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "SHA-256 of u.data" in last


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "movierec")
def test_every_help_screen_is_clean(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="movierec")

    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: {' '.join(('movierec', *path))} [OPTIONS]")
    assert re.search(r"^  --help +Show this message and exit\.$", result.output, re.MULTILINE)
    assert "<bool>" not in result.output  # a flag takes no value


def test_flags_read_as_on_off_pairs() -> None:
    assert "--retrain / --no-retrain" in CliRunner().invoke(app, ["up", "--help"]).output


@pytest.mark.parametrize("path", LEAF_COMMANDS, ids=" ".join)
def test_every_command_answers_a_bad_setting_in_one_line(
    path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, to cover every command cheaply; the next test spawns the real command."""

    def must_not_start(*args: object, **kwargs: object) -> None:
        raise AssertionError("a command started a service despite an invalid configuration")

    for starter in ("system.run_system", "api.launch.run_server", "streamlit_app.exec_streamlit"):
        monkeypatch.setattr(f"movierec.{starter}", must_not_start)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(tmp_path))
    for name, value in BAD_LIST.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, [*path, *REQUIRED.get(path, [])])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(
        "error: MOVIEREC_TRAINING__MODELS must be a JSON list or object"
    )
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("variables", "configs", "message"),
    [
        (BAD_LIST, "", "error: MOVIEREC_TRAINING__MODELS must be a JSON list or object, e.g. '["),
        ({"MOVIEREC_TRAINING__K_VALUES": "ten"}, "", "error: MOVIEREC_TRAINING__K_VALUES must be"),
        ({"MOVIEREC_CONFIG_DIR": "missing"}, "", "error: MOVIEREC_CONFIG_DIR=missing is not a"),
        ({}, "data:\n  dataset: [ml-100k\n", "not valid YAML at line 3, column 1: "),
    ],
    ids=["list", "k_values", "config_dir", "yaml"],
)
def test_the_real_command_answers_a_bad_configuration_in_one_line(
    tmp_path: Path, variables: dict[str, str], configs: str, message: str
) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs/data.yaml").write_text(configs)

    # The dashboard command reads the settings before importing anything heavy: a quick check.
    result = _run(tmp_path, "dashboard", "--port", str(free_port()), **variables)

    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr
