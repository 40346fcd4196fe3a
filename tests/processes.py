"""Processes for the tests of `movierec up`: who is alive in a process group, and busy CPUs.

Read from Linux's /proc. A zombie is not alive: it has exited, and only waits for a parent to
reap it (in some containers nothing ever reaps orphans).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

requires_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").is_file(), reason="reads the process table from Linux's /proc"
)


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
