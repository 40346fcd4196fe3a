"""Start the monitoring dashboard: `streamlit run dashboard.py`, as `movierec dashboard` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from movierec.config import MonitoringSettings

DASHBOARD_PATH = Path(__file__).with_name("dashboard.py")


def dashboard_command(port: int, address: str | None = None) -> list[str]:
    """The command line serving the dashboard on `port`, headless (no browser opened)."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_PATH),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    if address is not None:
        command += ["--server.address", address]
    return command


def run_dashboard(settings: MonitoringSettings, port: int | None = None) -> int:
    """Serve the dashboard over `settings.log_db` until interrupted; the exit code."""
    env = {**os.environ, "MOVIEREC_MONITORING__LOG_DB": str(settings.log_db)}
    try:
        command = dashboard_command(port or settings.dashboard_port)
        return subprocess.run(command, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 0
