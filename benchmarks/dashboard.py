"""The dashboard's first load in headless Chromium: Streamlit with and without preloading.

Run: `python -m benchmarks.dashboard` (or `make benchmark-dashboard`) after `make train`.
Serves the production bundle with the real API, replays held-out users with the traffic
simulator for a request log, then starts a fresh dashboard server per turn, alternately
through `movierec.streamlit_app` (which imports the app's modules before listening) and as
plain `streamlit run`, and times from navigation to the KPI cards and to every chart drawn.
Fresh servers, so every load is a first one; alternating turns share the machine's load.
Writes benchmarks/results/dashboard.json with the machine and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, expect, sync_playwright
from tests.servers import free_port, running_api

from benchmarks.machine import machine
from movierec.config import SimulatorSettings, load_settings
from movierec.data.preprocess import PART_FILES
from movierec.monitoring.simulator import simulate, traffic_sources
from movierec.streamlit_app import DASHBOARD_APP, streamlit_command

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks/results/dashboard.json"
CHROMIUM = "/usr/bin/chromium"
CHARTS = 7
TIMEOUT_MS = 180_000
ALL_CHARTS_DRAWN = (
    'n => document.querySelectorAll(\'[data-testid="stVegaLiteChart"] canvas, '
    '[data-testid="stVegaLiteChart"] svg.marks\').length >= n'
)


def record_traffic(log_db: Path) -> dict[str, int]:
    """A request log of 20 s of simulated traffic against the production bundle."""
    settings = load_settings()
    model_dir = settings.serving.model_dir
    test_split = settings.data.processed_dir / PART_FILES["test"]
    with running_api(model_dir, log_db) as url:
        report = simulate(
            url,
            traffic_sources(test_split, model_dir),
            rate=100,
            duration_s=20,
            max_requests=2000,
            mix=SimulatorSettings(),
            seed=0,
            show_progress=False,
        )
    return report.by_endpoint


def first_load(browser: Browser, command: list[str], env: dict[str, str], url: str) -> dict:
    """Seconds from navigation to the KPI cards and to every chart, on a fresh server."""
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(url, timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=TIMEOUT_MS)
        cards = time.perf_counter() - started
        page.wait_for_function(ALL_CHARTS_DRAWN, arg=CHARTS, timeout=TIMEOUT_MS)
        expect(page.get_by_text("Replay evaluation")).to_be_visible(timeout=TIMEOUT_MS)
        complete = time.perf_counter() - started
        page.close()
    finally:
        server.terminate()
        server.wait()
    return {"cards_s": round(cards, 2), "complete_s": round(complete, 2)}


def run(turns: int) -> dict[str, Any]:
    """Alternate preloaded and plain first loads `turns` times each."""
    loads: dict[str, list[dict]] = {"preloaded": [], "plain": []}
    load_average = []
    with tempfile.TemporaryDirectory(prefix="movierec-dashboard-") as workdir:
        log_db = Path(workdir) / "requests.db"
        traffic = record_traffic(log_db)
        env = {**os.environ, "MOVIEREC_MONITORING__LOG_DB": str(log_db)}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            for turn in range(2 * turns):
                port = free_port()
                command = streamlit_command(DASHBOARD_APP, port, "127.0.0.1")
                way = "preloaded" if turn % 2 == 0 else "plain"
                if way == "plain":
                    command = [command[0], "-m", "streamlit", "run", *command[3:]]
                loads[way].append(first_load(browser, command, env, f"http://127.0.0.1:{port}"))
                load_average.append(round(os.getloadavg()[0], 1))
                print(way, loads[way][-1], flush=True)
            browser.close()
    medians = {
        way: {key: statistics.median(load[key] for load in runs) for key in runs[0]}
        for way, runs in loads.items()
    }
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_1min": load_average,
        "traffic": traffic,
        "turns": loads,
        "median": medians,
        "complete_ratio_preloaded_to_plain": round(
            medians["preloaded"]["complete_s"] / medians["plain"]["complete_s"], 3
        ),
        "target_complete_below_5s": medians["preloaded"]["complete_s"] < 5,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=4, help="first loads of each kind")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = run(args.turns)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["median"], indent=2), result["complete_ratio_preloaded_to_plain"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
