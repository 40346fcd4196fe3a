"""Peak resident memory of this process, per stage: Linux's high-water mark, reset between.

Writing "5" to /proc/self/clear_refs resets VmHWM (the peak resident set size) to the current
size, so each stage's peak is its own, not the largest of the stages before it.
"""

from __future__ import annotations

import resource
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak() -> None:
    """Start a new peak from the current resident size (no-op where Linux offers no reset)."""
    if CLEAR_REFS.exists():
        CLEAR_REFS.write_text("5")


def peak_mb() -> float:
    """The peak resident size since the last reset, in MB (lifetime peak where no reset)."""
    if STATUS.exists():
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_mb() -> float:
    """The largest peak of any finished child process (a Spark JVM, worker processes)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
