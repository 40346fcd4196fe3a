"""Serve one of the project's Streamlit apps (frontend, dashboard) as this very process.

`exec` rather than a child process, so that stopping `movierec frontend` or `movierec
dashboard` (Ctrl-C, or SIGTERM from `movierec up`) stops Streamlit itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

FRONTEND_APP = Path(__file__).parent / "frontend" / "app.py"
DASHBOARD_APP = Path(__file__).parent / "monitoring" / "dashboard.py"


def streamlit_command(script: Path, port: int, address: str | None = None) -> list[str]:
    """The command line serving `script` on `port`, headless (no browser opened)."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
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
