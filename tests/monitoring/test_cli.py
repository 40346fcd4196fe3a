"""`movierec monitor kpis|replay` and `movierec simulate` through Typer's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from movierec.cli import app
from movierec.config import get_settings
from tests.monitoring.conftest import KNOWN_ROWS
from tests.monitoring.log_rows import write_log

runner = CliRunner()


@pytest.fixture
def known_log(tmp_path: Path) -> Path:
    """The known log as a SQLite file, for `--log-db` (a store URL comes from `store.url`)."""
    path = tmp_path / "logs" / "requests.db"
    write_log(path, KNOWN_ROWS)
    return path


@pytest.fixture
def store_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Sets `store.url` (MOVIEREC_STORE__URL) for the commands run after it."""

    def use(url: str) -> None:
        monkeypatch.setenv("MOVIEREC_STORE__URL", url)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def test_kpis_json_is_the_report(known_log: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "bundle"
    model_dir.mkdir()
    (model_dir / "item_mapping.json").write_text(json.dumps({str(m): m for m in range(12)}))
    result = runner.invoke(
        app,
        [
            "monitor",
            "kpis",
            "--format",
            "json",
            "--log-db",
            str(known_log),
            "--model-dir",
            str(model_dir),
            "--since",
            "2024-05-01T12:01:00",
            "--until",
            "2024-05-01T12:02:00",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["requests_total"] == 3
    assert report["fallback_rate"] == 0.5
    assert report["coverage"] == 5 / 12
    assert report["requests_per_endpoint"] == {"/popular": 1, "/recommend": 2}


def test_kpis_table_shows_numbers_and_alerts(known_log: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["monitor", "kpis", "--log-db", str(known_log), "--model-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert "Request-log KPIs" in result.output
    assert "9.76" in result.output  # /recommend p99
    assert "40.0%" in result.output  # fallback rate
    assert "ALERT fallback_rate (/recommend)" in result.output  # default threshold 20%


def test_kpis_bad_input_is_one_line_not_a_traceback(known_log: Path) -> None:
    result = runner.invoke(app, ["monitor", "kpis", "--log-db", str(known_log), "--since", "x"])
    assert result.exit_code == 1
    assert "cannot read time 'x'" in result.output
    assert "Traceback" not in result.output


def test_kpis_and_replay_read_the_store_url(
    postgres_url: str, store_url: Callable[[str], None], tmp_path: Path
) -> None:
    write_log(postgres_url, KNOWN_ROWS)
    store_url(postgres_url)
    kpis = runner.invoke(app, ["monitor", "kpis", "--format", "json"])
    assert kpis.exit_code == 0, kpis.output
    assert json.loads(kpis.output)["requests_total"] == len(KNOWN_ROWS)
    test_path = tmp_path / "test.parquet"
    pd.DataFrame({"user_id": [1, 2, 3], "movie_id": [2, 5, 8]}).to_parquet(test_path, index=False)
    replay = runner.invoke(
        app, ["monitor", "replay", "--test-path", str(test_path), "--k", "2", "--format", "json"]
    )
    assert replay.exit_code == 0, replay.output
    assert json.loads(replay.output)["requests_evaluated"] == 4


def test_an_unreachable_store_is_one_line_not_a_traceback(
    postgres_url: str, store_url: Callable[[str], None]
) -> None:
    store_url(postgres_url.replace("movierec@", "nobody_here@"))
    result = runner.invoke(app, ["monitor", "kpis"])
    assert result.exit_code == 1
    assert "cannot use the store at postgresql+psycopg://nobody_here@" in result.output
    assert "Traceback" not in result.output


def test_replay_table_and_json(known_log: Path, tmp_path: Path) -> None:
    test_path = tmp_path / "test.parquet"
    pd.DataFrame({"user_id": [1, 2, 3], "movie_id": [2, 5, 8]}).to_parquet(test_path, index=False)
    common = ["--log-db", str(known_log), "--test-path", str(test_path), "--k", "2"]
    table = runner.invoke(app, ["monitor", "replay", *common, "--model-dir", str(tmp_path)])
    assert table.exit_code == 0, table.output
    assert "precision@2" in table.output and "CTR" in table.output
    as_json = runner.invoke(app, ["monitor", "replay", *common, "--format", "json"])
    report = json.loads(as_json.output)
    assert report["requests_evaluated"] == 4
    assert report["overall"]["hit_rate_at_k"] == 0.75


def test_simulate_refuses_a_remote_api() -> None:
    result = runner.invoke(app, ["simulate", "--api-url", "http://example.com:8000"])
    assert result.exit_code == 1
    assert "--allow-remote" in result.output
