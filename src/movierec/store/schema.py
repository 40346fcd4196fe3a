"""The store's schema, versioned by Alembic: bring a database to the newest revision.

The revisions live in `migrations/versions` (the first, `0001`, is the schema of version 1:
the request log). `upgrade` runs at every start of the API and by `movierec db upgrade`. It
holds the store's migration lock for the whole upgrade (PostgreSQL: an advisory lock; SQLite:
an exclusive transaction), so processes starting together upgrade once and the others wait,
then find nothing to do. A database written before migrations existed has the request log but
no `alembic_version`: it is stamped with the baseline first, so its rows stay untouched.
A store already at `HEAD` costs one query: Alembic (a second of imports on a busy machine) is
loaded only when there is something to migrate.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from movierec.store.database import Database, StoreError, create_engine, unreachable

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
# The newest revision in `migrations/versions` (a test holds it to what Alembic finds there).
HEAD = "0004"
# Serialises upgrades on PostgreSQL (an arbitrary key of the store's own).
MIGRATION_LOCK_KEY = 0x6D6F76696572


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the store, running on `connection` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision of the store's schema, as Alembic finds it in the scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for a database without migrations."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    version = connection.execute(text("SELECT version_num FROM alembic_version"))
    found: str | None = version.scalar_one_or_none()
    return found


def upgrade(database: Database) -> str | None:
    """Bring `database` to the newest revision (creating a SQLite file if needed); returns
    the revision it was at before (None: empty or unversioned). `StoreError` when the store
    cannot be reached or a migration fails."""
    engine = _locking_engine(database)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            before = current_revision(connection)
            if before == HEAD:
                return before
            from alembic import command

            config = alembic_config(connection)
            if before is None and inspect(connection).has_table("request_logs"):
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")
        return before
    except SQLAlchemyError as exc:
        raise StoreError(unreachable(engine, exc)) from exc
    finally:
        engine.dispose()


def _locking_engine(database: Database) -> Engine:
    """An engine whose transactions on SQLite begin EXCLUSIVE (so DDL is transactional and
    a second migrator waits for the first); PostgreSQL locks in `upgrade`."""
    engine = create_engine(database)
    if engine.dialect.name == "sqlite":

        def own_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # pysqlite must not BEGIN on its own

        def begin_exclusive(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN EXCLUSIVE")

        event.listen(engine, "connect", own_transactions)
        event.listen(engine, "begin", begin_exclusive)
    return engine
