"""Request-log retention: delete rows older than an age, then the oldest beyond a row count.

Only the request log is pruned (feedback and accounts are records, never trimmed). Rows go
oldest first, in chunks of `CHUNK_ROWS` per transaction, so that a large prune never holds
SQLite's write lock for long; SQLite reuses the freed pages, so a pruned file stops growing.
A request-log row takes about 370 bytes: `max_rows` 5,000,000 is about 2 GB. The API's
request-log writer applies the retention every `interval_s` (`movierec.store.writer`), and
`movierec monitor prune` applies it once. KPIs over the kept window are unchanged by a prune.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from movierec.store.database import StoreError, unreachable
from movierec.store.tables import request_logs

log = logging.getLogger(__name__)

CHUNK_ROWS = 20_000


def _delete_before(engine: Engine, cutoff: datetime, inclusive: bool) -> int:
    """Delete rows with a timestamp before `cutoff` (or at it), a chunk per transaction."""
    stamp = request_logs.c.timestamp
    deleted = 0
    while True:
        with engine.begin() as conn:
            chunk_end = conn.execute(
                select(stamp).order_by(stamp).offset(CHUNK_ROWS).limit(1)
            ).scalar()
            bound = cutoff if chunk_end is None or chunk_end > cutoff else chunk_end
            last = inclusive and bound == cutoff
            condition = stamp <= bound if last else stamp < bound
            removed = conn.execute(delete(request_logs).where(condition)).rowcount
        deleted += removed
        if bound == cutoff or removed == 0:
            return deleted


def prune_request_log(
    engine: Engine, max_age_days: float | None, max_rows: int | None, now: datetime
) -> int:
    """Delete the request-log rows older than `max_age_days` before `now` (UTC, naive) and
    then the oldest beyond `max_rows`; return how many went. None disables a limit."""
    stamp = request_logs.c.timestamp
    deleted = 0
    try:
        if max_age_days is not None:
            deleted += _delete_before(engine, now - timedelta(days=max_age_days), inclusive=False)
        if max_rows is not None:
            with engine.connect() as conn:
                count = conn.execute(select(func.count()).select_from(request_logs)).scalar_one()
                newest_dropped = conn.execute(
                    select(stamp).order_by(stamp.desc()).offset(max_rows).limit(1)
                ).scalar()
            if count > max_rows and newest_dropped is not None:
                deleted += _delete_before(engine, newest_dropped, inclusive=True)
    except SQLAlchemyError as exc:
        raise StoreError(unreachable(engine, exc)) from exc
    if deleted:
        log.info("request-log retention deleted %d rows", deleted)
    return deleted


def apply_retention(engine: Engine, max_age_days: float | None, max_rows: int | None) -> None:
    """The writer's periodic prune (now); a store that fails is logged, never raised."""
    try:
        prune_request_log(engine, max_age_days, max_rows, datetime.now(UTC).replace(tzinfo=None))
    except StoreError as exc:
        log.error("request-log retention skipped: %s", exc)
