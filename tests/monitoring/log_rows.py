"""Build request-log databases with known content, through the real schema and writer."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from movierec.request_log import INSERT, TIMESTAMP_FORMAT, connect_writer


@dataclass
class Row:
    """One logged request; defaults make a non-fallback /recommend answer."""

    timestamp: datetime
    endpoint: str = "/recommend"
    user_id: int | None = None
    recommendations: list[int] = field(default_factory=list)
    latency_ms: float = 1.0
    model_version: str | None = "v1"
    fallback_reason: str | None = None


def write_log(path: Path, rows: list[Row]) -> Path:
    """Insert `rows` into a fresh log database at `path`."""
    conn = connect_writer(path)
    with conn:
        conn.executemany(
            INSERT,
            [
                (
                    str(uuid.uuid4()),
                    row.timestamp.strftime(TIMESTAMP_FORMAT),
                    row.user_id,
                    row.endpoint,
                    row.model_version,
                    json.dumps(row.recommendations),
                    json.dumps([1.0 / (rank + 1) for rank in range(len(row.recommendations))]),
                    row.latency_ms,
                    int(row.fallback_reason is not None),
                    row.fallback_reason,
                )
                for row in rows
            ],
        )
    conn.close()
    return path
