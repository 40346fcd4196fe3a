"""README's first command, `make up`, from a clean clone on a busy machine: it trains, every
service answers, and Ctrl-C leaves no process and no port behind.

While `make up` runs, one spinning process per core keeps every CPU busy, as other work does
on a shared machine (the MLflow UI's default workers used to restart in a loop there).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import real_mirror, requires_ml100k
from tests.processes import busy_cpus, carrying, port_open, requires_proc, wait_for_output
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500), requires_ml100k]

RUN_MARKER = "UP_TEST_RUN"


@pytest.fixture
def system(clean_clone: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, int], Path]]:
    ports = {name: free_port() for name in ("api", "frontend", "dashboard", "mlflow", "retrainer")}
    env = {
        **os.environ,
        RUN_MARKER: str(clean_clone),
        "MOVIELENS_BASE_URL": str(real_mirror()),
        "MOVIEREC_SERVING__PORT": str(ports["api"]),
        "MOVIEREC_FRONTEND__PORT": str(ports["frontend"]),
        "MOVIEREC_MONITORING__DASHBOARD_PORT": str(ports["dashboard"]),
        "MOVIEREC_TRAINING__MLFLOW__UI_PORT": str(ports["mlflow"]),
        "MOVIEREC_RETRAIN__PORT": str(ports["retrainer"]),
    }
    env.pop("VIRTUAL_ENV", None)
    output = clean_clone / "up.log"
    with output.open("wb") as log, busy_cpus():
        process = subprocess.Popen(
            ["make", "up"],
            cwd=clean_clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process, ports, output
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            for pid in carrying(RUN_MARKER, str(clean_clone)):  # only if the test failed
                os.kill(pid, signal.SIGKILL)


def _assert_training_summary(text: str, metrics_path: Path) -> None:
    """The summary line names the winner and its test score beside popularity's, as recorded."""
    found = re.search(
        r"Trained: (\w+) won with test ndcg@10 ([\d.]+) \(popularity ([\d.]+)\); version 1 "
        r"promoted to production\.",
        text,
    )
    assert found, text
    evaluation = json.loads(metrics_path.read_text())
    assert found[1] == evaluation["winner"] != "popularity"
    for kind, printed in ((found[1], found[2]), ("popularity", found[3])):
        score = evaluation["candidates"][kind]["test"]["metrics"]["ndcg@10"]["mean"]
        assert float(printed) == pytest.approx(score, abs=5e-5)


@requires_proc
def test_make_up_on_busy_cpus_trains_serves_and_stops_cleanly(
    system: tuple[subprocess.Popen[bytes], dict[str, int], Path], clean_clone: Path
) -> None:
    process, ports, output = system
    started = time.monotonic()
    wait_for_output("movie-recommender is up", process, output, timeout_s=1200)
    up_s = time.monotonic() - started
    # The MLflow UI may still be starting then; it has system.mlflow_ui_timeout_s (180 s).
    mlflow_line = rf"MLflow UI +http://127\.0\.0\.1:{ports['mlflow']} +up in \d+ s"
    text = wait_for_output(mlflow_line, process, output, timeout_s=240)
    print(f"`make up` said it was up after {up_s:.0f} s on busy CPUs")
    print("\n".join(line for line in text.splitlines() if " up in " in line or "is up" in line))
    assert "running the offline pipeline" in text
    assert (clean_clone / "models/production/model_metadata.json").is_file()
    _assert_training_summary(text, clean_clone / "models/production/metrics.json")
    for name, port in (("API", "api"), ("Frontend", "frontend"), ("Dashboard", "dashboard")):
        assert re.search(rf"{name} +http://127\.0\.0\.1:{ports[port]} +up in \d+ s", text)

    api = f"http://127.0.0.1:{ports['api']}"
    health = httpx.get(f"{api}/health", timeout=5).json()
    assert health["status"] == "ok"
    answer = httpx.post(f"{api}/recommend", json={"user_id": 1, "k": 5}, timeout=5)
    assert answer.status_code == 200
    assert len(answer.json()["recommendations"]) == 5
    for name in ("frontend", "dashboard"):
        page = httpx.get(f"http://127.0.0.1:{ports[name]}/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()
    registered = httpx.get(
        f"http://127.0.0.1:{ports['mlflow']}/api/2.0/mlflow/registered-models/get",
        params={"name": "movie-recommender"},
        timeout=5,
    )
    assert registered.status_code == 200
    assert registered.json()["registered_model"]["aliases"][0]["alias"] == "production"

    # Ctrl-C reaches the whole foreground process group, as in a terminal. make itself exits
    # at once; `movierec up` goes on stopping the services, which takes a few seconds.
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and carrying(RUN_MARKER, str(clean_clone)):
        time.sleep(0.5)
    assert "All services stopped." in output.read_text()
    assert carrying(RUN_MARKER, str(clean_clone)) == []
    assert not any(port_open(port) for port in ports.values())
