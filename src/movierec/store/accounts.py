"""Accounts and their sign-in sessions in the store (tables `accounts`, `refresh_tokens`).

An account acts for one recommender user: a fresh one created like the API's other new users
(`movierec.store.feedback.create_user`, ids above the dataset's), or a MovieLens id it
claimed (demo mode). A sign-in starts a session; each
refresh replaces the session's refresh token by a new one, and presenting a replaced token
again (a stolen copy, most likely) revokes the whole session. Access tokens name their
session, so `session_is_live` is how they are revoked too. Tokens are kept as digests only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from movierec.store.digests import digest
from movierec.store.tables import accounts, refresh_tokens


@dataclass(frozen=True)
class Account:
    account_id: int
    email: str
    user_id: int
    claimed: bool
    created_at: float


@dataclass(frozen=True)
class Session:
    """A live session's account and id, as a refresh token opens it."""

    account_id: int
    session_id: str


ACCOUNT_COLUMNS = (
    accounts.c.account_id,
    accounts.c.email,
    accounts.c.user_id,
    accounts.c.claimed,
    accounts.c.created_at,
)


def create_account(
    engine: Engine, email: str, password_hash: str, user_id: int, claimed: bool, now: float
) -> Account | None:
    """A new account for `email` acting for `user_id` (a fresh user of `app_users`, or a
    claimed MovieLens user); None when the email or the user already has an account."""
    row = {
        "email": email,
        "password_hash": password_hash,
        "user_id": user_id,
        "claimed": claimed,
        "created_at": now,
    }
    try:
        with engine.begin() as conn:
            account_id = conn.execute(
                insert(accounts).returning(accounts.c.account_id), row
            ).scalar_one()
    except IntegrityError:
        return None
    return Account(account_id, email, user_id, claimed, now)


def find_by_email(engine: Engine, email: str) -> tuple[Account, str] | None:
    """The account of `email` and its password hash, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            select(*ACCOUNT_COLUMNS, accounts.c.password_hash).where(accounts.c.email == email)
        ).first()
    if row is None:
        return None
    *fields, password_hash = row
    return Account(*fields), password_hash


def get_account(engine: Engine, account_id: int) -> Account | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(*ACCOUNT_COLUMNS).where(accounts.c.account_id == account_id)
        ).first()
    return Account(*row) if row is not None else None


def is_owned(engine: Engine, user_id: int) -> bool:
    """Whether an account acts for `user_id`."""
    with engine.connect() as conn:
        found = conn.execute(select(accounts.c.account_id).where(accounts.c.user_id == user_id))
        return found.first() is not None


def set_password_hash(engine: Engine, account_id: int, password_hash: str) -> None:
    """Replace the stored hash (after the hashing parameters changed)."""
    with engine.begin() as conn:
        conn.execute(
            update(accounts)
            .where(accounts.c.account_id == account_id)
            .values(password_hash=password_hash)
        )


def start_session(
    engine: Engine, account_id: int, refresh_token: str, now: float, expires_at: float
) -> str:
    """A new session whose first refresh token is `refresh_token`; returns its id."""
    session_id = secrets.token_hex(16)
    _add_token(engine, account_id, session_id, refresh_token, now, expires_at)
    return session_id


def rotate(
    engine: Engine, refresh_token: str, new_token: str, now: float, expires_at: float
) -> Session | None:
    """Replace `refresh_token` by `new_token` in its session; None when it is unknown,
    expired or already used (and then, if its session was live, the session is revoked)."""
    hashed = digest(refresh_token)
    with engine.begin() as conn:
        row = conn.execute(
            select(
                refresh_tokens.c.account_id,
                refresh_tokens.c.session_id,
                refresh_tokens.c.expires_at,
            ).where(refresh_tokens.c.token_hash == hashed)
        ).first()
        if row is None:
            return None
        account_id, session_id, token_expires = row
        used = conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == hashed, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if used.rowcount != 1:  # replaced or revoked before: end the session it belongs to
            _revoke(conn, session_id, now)
            return None
    if token_expires <= now:
        return None
    _add_token(engine, account_id, session_id, new_token, now, expires_at)
    return Session(account_id, session_id)


def revoke_session(engine: Engine, refresh_token: str, now: float) -> bool:
    """End the session of `refresh_token` (sign-out); False when the token is unknown."""
    with engine.begin() as conn:
        session_id = conn.execute(
            select(refresh_tokens.c.session_id).where(
                refresh_tokens.c.token_hash == digest(refresh_token)
            )
        ).scalar_one_or_none()
        if session_id is None:
            return False
        _revoke(conn, session_id, now)
    return True


def session_is_live(engine: Engine, session_id: str, now: float) -> bool:
    """Whether the session still has an unrevoked, unexpired refresh token."""
    with engine.connect() as conn:
        found = conn.execute(
            select(refresh_tokens.c.token_hash)
            .where(
                and_(
                    refresh_tokens.c.session_id == session_id,
                    refresh_tokens.c.revoked_at.is_(None),
                    refresh_tokens.c.expires_at > now,
                )
            )
            .limit(1)
        )
        return found.first() is not None


def _add_token(
    engine: Engine,
    account_id: int,
    session_id: str,
    refresh_token: str,
    now: float,
    expires_at: float,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(refresh_tokens).values(
                token_hash=digest(refresh_token),
                session_id=session_id,
                account_id=account_id,
                created_at=now,
                expires_at=expires_at,
            )
        )


def _revoke(conn: Connection, session_id: str, now: float) -> None:
    conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.session_id == session_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
