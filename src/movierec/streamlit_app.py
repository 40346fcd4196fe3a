"""Serve one of the project's Streamlit apps (frontend, dashboard) as this very process.

`exec` rather than a child process, so that stopping `movierec frontend` or `movierec
dashboard` (Ctrl-C, or SIGTERM from `movierec up`) stops Streamlit itself.

Streamlit imports an app's modules on its first page view, which on a busy 2-core machine
took 10-15 s of the dashboard's first load (pandas, altair, the project's modules). The
server is therefore started by this module (`python -m movierec.streamlit_app SCRIPT ...`),
which imports them first, before Streamlit listens: the first visitor finds them loaded.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import NoReturn

FRONTEND_APP = Path(__file__).parent / "frontend" / "app.py"
DASHBOARD_APP = Path(__file__).parent / "monitoring" / "dashboard.py"

PRELOAD: dict[str, tuple[str, ...]] = {
    # What the apps import, not the apps themselves: their Streamlit caches need the runtime.
    DASHBOARD_APP.name: (
        "pandas",
        "movierec.monitoring.charts",
        "movierec.monitoring.kpis",
        "movierec.monitoring.replay_eval",
        "movierec.store.database",
    ),
    FRONTEND_APP.name: (
        "altair",
        "pandas",
        "movierec.frontend.components",
        "movierec.frontend.catalogue",
        "movierec.frontend.evaluation",
    ),
}


def streamlit_command(script: Path, port: int, address: str | None = None) -> list[str]:
    """The command line serving `script` on `port`, headless (no browser opened)."""
    command = [
        sys.executable,
        "-m",
        "movierec.streamlit_app",
        str(script),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
    if address is not None:
        command += ["--server.address", address]
    return command


def exec_streamlit(script: Path, port: int, env: dict[str, str]) -> NoReturn:
    """Replace this process by Streamlit serving `script`, with `env` added to the environment."""
    command = streamlit_command(script, port)
    os.execve(command[0], command, {**os.environ, **env})


def run(argv: list[str]) -> None:
    """`streamlit run SCRIPT OPTIONS...` after importing the modules SCRIPT will need."""
    from streamlit.web.cli import main

    for module in PRELOAD.get(Path(argv[0]).name, ()):
        importlib.import_module(module)
    main(["run", *argv], prog_name="streamlit")


if __name__ == "__main__":
    run(sys.argv[1:])
