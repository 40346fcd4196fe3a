"""Project files that must stay in step with each other."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
def test_requirements_txt_is_exported_from_the_lock() -> None:
    exported = subprocess.run(
        ["uv", "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-q"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committed = (REPO_ROOT / "requirements.txt").read_text()

    def pins(text: str) -> list[str]:
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    assert pins(committed) == pins(exported), "run `make requirements` after changing the lock"


def test_the_import_layers_hold() -> None:
    """The contracts in pyproject.toml ([tool.importlinter]): serving knows no HTTP, the API
    no training, the frontend only its API client."""
    lint = shutil.which("lint-imports", path=str(REPO_ROOT / ".venv/bin")) or "lint-imports"
    result = subprocess.run([lint], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
