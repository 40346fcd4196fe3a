"""Open the store: a SQLAlchemy engine for a database URL or a SQLite file, and its tables.

Where the store lives is a `Database`: a SQLAlchemy URL (`store.url`, for example
`postgresql+psycopg://user:password@host:5432/movierec`), or the path of a SQLite file, which
is what an empty `store.url` means (`serving.log_db` for the API, `monitoring.log_db` for
monitoring; both default to `data/logs/requests.db`). PostgreSQL needs the `postgres` extra
(`uv sync --extra postgres`); SQLite needs nothing.

Writers' SQLite connections run in WAL mode with `synchronous=NORMAL` (readers never wait for
the writer; a commit does not wait for the disk) and wait up to `BUSY_TIMEOUT_S` for the write
lock, so several API processes can share one file. Readers open a SQLite file read-only, and
never create it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy
from sqlalchemy import URL, Engine, event, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

Database = str | Path
BUSY_TIMEOUT_S = 10.0


class StoreError(Exception):
    """The store cannot be opened: the message names the database and what to do."""


def describe(database: Database) -> str:
    """The database as shown to people: a file path, or the URL without its password."""
    if isinstance(database, Path):
        return str(database)
    try:
        return make_url(database).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(database)


def sqlite_file(database: Database) -> Path | None:
    """The SQLite file `database` names; None for another backend or an in-memory SQLite."""
    if isinstance(database, Path):
        return database
    url = _parse(database)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def create_engine(database: Database, read_only: bool = False) -> Engine:
    """An engine for `database`; a SQLite file is created (with its folder) unless `read_only`."""
    path = sqlite_file(database)
    url = _parse(database) if isinstance(database, str) else None
    options: dict[str, Any] = {}
    if path is not None:
        if read_only:
            url = URL.create(
                "sqlite", database=f"file:{quote(str(path))}", query={"mode": "ro", "uri": "true"}
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            url = URL.create("sqlite", database=str(path))
        options["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    else:
        options["pool_pre_ping"] = True  # a restarted server costs one reconnect, not an error
    assert url is not None
    try:
        engine = sqlalchemy.create_engine(url, **options)
    except ImportError as exc:
        raise StoreError(
            f"the driver for {describe(database)} is not installed ({exc}); for PostgreSQL "
            "run `uv sync --extra postgres` (or `pip install 'movierec[postgres]'`)"
        ) from exc
    except ArgumentError as exc:
        raise StoreError(f"cannot open {describe(database)}: {exc}") from exc
    if path is not None and not read_only:
        event.listen(engine, "connect", _sqlite_for_writing)
    return engine


def unreachable(engine: Engine, exc: SQLAlchemyError) -> str:
    """One line saying that the store at `engine` failed, why, and where to fix its address."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    where = engine.url.render_as_string(hide_password=True)
    return f"cannot use the store at {where}: {reason} (check store.url or the log_db path)"


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"store.url {url!r} is not a database URL: use e.g. sqlite:///data/store.db or "
            "postgresql+psycopg://user:password@host:5432/movierec"
        ) from exc


def _sqlite_for_writing(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL is a property of the file: switch only once. A switch racing another connection's
    # transaction (two writer processes starting on a fresh file) fails with "database is
    # locked" at once, whatever the busy timeout: try again until the other one is done.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
