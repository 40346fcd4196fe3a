"""Start the Streamlit frontend as `streamlit run app.py` (what `movierec frontend` does)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from movierec.config import FrontendSettings

APP_PATH = Path(__file__).with_name("app.py")


def streamlit_command(port: int, address: str | None = None) -> list[str]:
    """The command line serving the frontend on `port`, headless (no browser opened)."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
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


def run_frontend(settings: FrontendSettings, port: int | None = None) -> NoReturn:
    """Replace this process by Streamlit serving the frontend, talking to `settings.api_url`.

    `exec` rather than a child process, so that stopping `movierec frontend` stops Streamlit.
    """
    command = streamlit_command(port or settings.port)
    os.execve(command[0], command, {**os.environ, "MOVIEREC_API_URL": settings.api_url})
