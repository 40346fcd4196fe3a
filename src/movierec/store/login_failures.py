"""Failed sign-ins in the store (table `login_failures`): one row per wrong password and key,
so that every API process and replica over one store counts the same failures.

A key is a `(kind, key)` pair (`kind` 'account' or 'address'), kept as the SHA-256 of the key.
A moving window counts the failures newer than its start; `failing_since` finds, with one
indexed query per key, the failure whose leaving the window frees the key again. Rows older
than every window are pruned as failures are recorded (an indexed range: usually nothing).

Usage:
    >>> record(engine, [("account", "a@example.org"), ("address", "10.0.0.1")], now, now - 60)
    >>> failing_since(engine, "account", "a@example.org", since=now - 60, limit=5)  # None: free
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, delete, insert, select

from movierec.store.digests import digest
from movierec.store.tables import login_failures


def failing_since(engine: Engine, kind: str, key: str, since: float, limit: int) -> float | None:
    """The time of the `limit`-th newest failure of the key after `since`: while it is in the
    window the key holds `limit` failures or more. None when it holds fewer."""
    query = (
        select(login_failures.c.failed_at)
        .where(
            login_failures.c.kind == kind,
            login_failures.c.key_hash == digest(key),
            login_failures.c.failed_at > since,
        )
        .order_by(login_failures.c.failed_at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    with engine.connect() as conn:
        found: float | None = conn.execute(query).scalar_one_or_none()
    return found


def record(
    engine: Engine, keys: Sequence[tuple[str, str]], now: float, prune_before: float
) -> None:
    """One failure at `now` for each `(kind, key)`; forget every failure before `prune_before`."""
    rows = [{"kind": kind, "key_hash": digest(key), "failed_at": now} for kind, key in keys]
    with engine.begin() as conn:
        conn.execute(insert(login_failures), rows)
        conn.execute(delete(login_failures).where(login_failures.c.failed_at < prune_before))


def clear(engine: Engine, kind: str, key: str) -> None:
    """Forget the key's failures (a successful sign-in)."""
    with engine.begin() as conn:
        conn.execute(
            delete(login_failures).where(
                login_failures.c.kind == kind, login_failures.c.key_hash == digest(key)
            )
        )
