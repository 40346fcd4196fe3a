"""`movierec keys create|list|revoke` (services' API keys) and `movierec db upgrade` (the
store's schema)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from movierec.cli import _error_exit, app

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from movierec.store.database import Database

keys = typer.Typer(help="API keys for services: create, list, revoke.", no_args_is_help=True)
db = typer.Typer(help="The store's database: migrate its schema.", no_args_is_help=True)
app.add_typer(keys, name="keys")
app.add_typer(db, name="db")


def store_address() -> Database:
    """The store the API uses: `store.url`, else the SQLite file `serving.log_db`."""
    from movierec.config import get_settings

    settings = get_settings()
    return settings.store.url or settings.serving.log_db


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the store's schema to the newest revision (the API does it at start too)."""
    from movierec.config import ConfigError
    from movierec.store.database import StoreError, describe
    from movierec.store.schema import head_revision, upgrade

    try:
        address = store_address()
        before = upgrade(address)
    except (ConfigError, StoreError) as exc:
        raise _error_exit(exc) from None
    head = head_revision()
    change = f"upgraded from {before or 'no revision'} to" if before != head else "already at"
    typer.echo(f"{describe(address)}: {change} revision {head}")


@keys.command("create")
def keys_create(
    name: str = typer.Argument(..., help="Who holds the key, e.g. 'batch-job'."),
    scope: list[str] = typer.Option(
        ..., "--scope", help="recommend:any, feedback:any or admin (repeat for several)."
    ),
) -> None:
    """Create a key and print it once: the store keeps only its digest."""
    from movierec.config import ConfigError
    from movierec.store.api_keys import UnknownScopeError, create_key

    try:
        with _store() as engine:
            key, presented = create_key(engine, name, set(scope), time.time())
    except (ConfigError, UnknownScopeError) as exc:
        raise _error_exit(exc) from None
    typer.echo(f"created key {key.key_id} ({name}; {' '.join(sorted(key.scopes))})")
    typer.echo("send it as the X-API-Key header; it is shown only now:")
    typer.echo(presented)


@keys.command("list")
def keys_list() -> None:
    """Every key: id, name, scopes, when it was created and revoked."""
    from movierec.config import ConfigError
    from movierec.store.api_keys import list_keys

    try:
        with _store() as engine:
            found = list_keys(engine)
    except ConfigError as exc:
        raise _error_exit(exc) from None
    if not found:
        typer.echo("no API keys; create one with `movierec keys create NAME --scope SCOPE`")
    for key in found:
        revoked = f"  revoked {_when(key.revoked_at)}" if key.revoked_at else ""
        typer.echo(
            f"{key.key_id}  {key.name}  {' '.join(sorted(key.scopes))}  "
            f"created {_when(key.created_at)}{revoked}"
        )


@keys.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="The id `keys list` shows.")) -> None:
    """Revoke a key: the API refuses it from the next request on."""
    from movierec.config import ConfigError
    from movierec.store.api_keys import revoke_key

    try:
        with _store() as engine:
            revoked = revoke_key(engine, key_id, time.time())
    except ConfigError as exc:
        raise _error_exit(exc) from None
    if not revoked:
        raise _error_exit(
            LookupError(f"no live key {key_id!r}; `movierec keys list` shows the keys")
        )
    typer.echo(f"revoked key {key_id}")


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


@contextmanager
def _store() -> Iterator[Engine]:
    """The store's engine, its schema migrated first; any store error exits with one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from movierec.store.database import StoreError, create_engine, unreachable
    from movierec.store.schema import upgrade

    address = store_address()
    try:
        upgrade(address)
        engine = create_engine(address)
    except StoreError as exc:
        raise _error_exit(exc) from None
    try:
        yield engine
    except SQLAlchemyError as exc:
        raise _error_exit(StoreError(unreachable(engine, exc))) from None
    finally:
        engine.dispose()
