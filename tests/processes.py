"""Processes for the tests of `movierec up`: starting it, waiting for its output, who is
alive in a process group, open ports, and busy CPUs.

The process table is read from Linux's /proc. A zombie is not alive: it has exited, and
only waits for a parent to reap it (in some containers nothing ever reaps orphans).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

requires_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").is_file(), reason="reads the process table from Linux's /proc"
)

# The port variable of each service `movierec up` starts, and the service's name in its output.
SERVICE_PORTS = {
    "MOVIEREC_SERVING__PORT": "API",
    "MOVIEREC_FRONTEND__PORT": "Frontend",
    "MOVIEREC_MONITORING__DASHBOARD_PORT": "Dashboard",
    "MOVIEREC_TRAINING__MLFLOW__UI_PORT": "MLflow UI",
    "MOVIEREC_RETRAIN__PORT": "Retrainer",
}


@contextmanager
def movierec_up(root: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`movierec up` in `root` (its own session), output to `root/up.log`; its whole process
    group is killed if it is still running at the end."""
    with (root / "up.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "movierec.cli", "up"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for_output(
    pattern: str, process: subprocess.Popen[bytes], output: Path, timeout_s: float
) -> str:
    """The text of `output` once it holds `pattern` (a regular expression); a test failure if
    `process` exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = output.read_text(errors="replace")
        if re.search(pattern, text):
            return text
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited early ({process.returncode}):\n{text}")
        time.sleep(1)
    pytest.fail(
        f"{process.args!r} did not print {pattern!r} in {timeout_s} s:\n{output.read_text()}"
    )


def port_open(port: int) -> bool:
    """True when something listens on `port` of 127.0.0.1."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _table() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group id) of every process."""
    rows = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        # The command name, in parentheses, may hold spaces: the fields follow the last ")".
        state, ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        rows.append((int(entry.name), state, int(ppid), int(pgrp)))
    return rows


def children(pid: int) -> list[int]:
    """The live child processes of `pid`."""
    return [child for child, state, ppid, _ in _table() if ppid == pid and state != "Z"]


def alive_in_group(pgid: int) -> list[int]:
    """The live processes of process group `pgid`."""
    return [pid for pid, state, _, pgrp in _table() if pgrp == pgid and state != "Z"]


def carrying(variable: str, value: str) -> list[int]:
    """The live processes whose environment sets `variable` to `value` (children inherit it)."""
    wanted = f"{variable}={value}".encode()
    found = []
    for pid, state, _, _ in _table():
        try:
            environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:  # it exited meanwhile, or is not ours
            continue
        if state != "Z" and wanted in environment:
            found.append(pid)
    return found


@contextmanager
def busy_cpus(count: int | None = None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` processes (default: one per core) spinning until the block ends."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(count or os.cpu_count() or 2)
    ]
    try:
        yield burners
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
