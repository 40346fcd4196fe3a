"""The store's two backends for tests: a SQLite file, and a real PostgreSQL server.

The server is Debian's `postgresql` package (binaries in /usr/lib/postgresql/<version>/bin, or
`pg_ctl` on PATH): `initdb` into a temporary folder, started once per session on a free
loopback port with its socket in that folder. PostgreSQL refuses to run as root, so under root
it runs as the `postgres` account (or `nobody`) through `runuser`. Each test gets a fresh database.
Tests that use the `database` fixture run once per backend; the PostgreSQL run is skipped,
with the reason, only where no PostgreSQL server is installed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, func, select

from movierec.store.database import Database, create_engine
from tests.servers import free_port

SUPERUSER = "movierec"
# Accounts to run the server as under root: Debian's package creates the first.
SERVER_ACCOUNTS = ("postgres", "nobody")
NO_SERVER = (
    "no PostgreSQL server installed (initdb and pg_ctl): install Debian's `postgresql` "
    "package (`.ci/run` does) to run the store's tests against PostgreSQL too"
)


def server_binaries() -> Path | None:
    """The folder of the newest installed PostgreSQL server's `initdb` and `pg_ctl`."""
    versions = sorted(
        (path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
        key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def server_account() -> pwd.struct_passwd:
    """The unprivileged account the server runs as when the tests run as root."""
    for name in SERVER_ACCOUNTS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(f"running as root and none of the accounts {SERVER_ACCOUNTS} exists")


@dataclass(frozen=True)
class PostgresServer:
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql)


@contextmanager
def running_postgres(binaries: Path) -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server on a free port of 127.0.0.1 (no fsync: test data)."""
    run_as: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="movierec-pg-"))
    try:
        if os.geteuid() == 0:
            account = server_account()
            os.chown(folder, account.pw_uid, account.pw_gid)
            run_as = ["runuser", "-u", account.pw_name, "--"]
        data, port = folder / "data", free_port()

        def pg(tool: str, *args: str) -> None:
            result = subprocess.run(
                [*run_as, str(binaries / tool), *args],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if result.returncode != 0:
                log = folder / "server.log"
                server_log = log.read_text() if log.is_file() else ""
                raise RuntimeError(
                    f"{tool} {' '.join(args)} failed:\n{result.stdout}{result.stderr}{server_log}"
                )

        pg("initdb", "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "-N")
        options = f"-p {port} -k {folder} -h 127.0.0.1 -c fsync=off -c full_page_writes=off"
        pg(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(folder / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )
        try:
            yield PostgresServer(port)
        finally:
            pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    binaries = server_binaries()
    if binaries is None:
        pytest.skip(NO_SERVER)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail(
            "the PostgreSQL driver is not installed: `make test` installs it, or run "
            "`uv sync --extra postgres`"
        )
    with running_postgres(binaries) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    yield postgres_server.url(name)
    postgres_server.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """The store in each backend: a SQLite file that does not exist yet, or an empty
    PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "store" / "store.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


def table_rows(database: Database, table: Table) -> list[dict[str, Any]]:
    """Every row of `table` as a column -> value mapping (as SQLAlchemy reads it)."""
    engine = create_engine(database, read_only=True)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(select(table))]
    finally:
        engine.dispose()


def row_count(database: Database, table: Table) -> int:
    engine = create_engine(database, read_only=True)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()
