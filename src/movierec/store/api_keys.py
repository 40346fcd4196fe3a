"""API keys for services, in the store (table `api_keys`): created and revoked with
`movierec keys`, each with scopes.

A key reads `mrk_<key_id>_<secret>`: the store keeps the public `key_id` and the SHA-256 of
the secret, so the key is shown once, when it is created, and never again.

Usage:
    >>> key, presented = create_key(engine, "batch-job", {"recommend:any"}, time.time())
    >>> find_key(engine, presented) == key
    True
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from movierec.store.digests import digest, new_secret
from movierec.store.tables import api_keys

# What a key may do: act for any user on /recommend, on /feedback and the users' history,
# and use /admin/*.
SCOPES = ("recommend:any", "feedback:any", "admin")
PREFIX = "mrk"


class UnknownScopeError(ValueError):
    """A scope that is not one of `SCOPES`."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[str]
    created_at: float
    revoked_at: float | None = None


def create_key(engine: Engine, name: str, scopes: set[str], now: float) -> tuple[ApiKey, str]:
    """A new key named `name` with `scopes`, and the key as its holder presents it."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise UnknownScopeError(
            f"unknown scope {', '.join(unknown) or '(none given)'}: choose from "
            f"{', '.join(SCOPES)}"
        )
    key_id, secret = secrets.token_hex(6), new_secret()
    key = ApiKey(key_id, name, frozenset(scopes), now)
    with engine.begin() as conn:
        conn.execute(
            insert(api_keys).values(
                key_id=key_id,
                name=name,
                secret_hash=digest(secret),
                scopes=" ".join(sorted(scopes)),
                created_at=now,
            )
        )
    return key, f"{PREFIX}_{key_id}_{secret}"


def list_keys(engine: Engine) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                api_keys.c.key_id,
                api_keys.c.name,
                api_keys.c.scopes,
                api_keys.c.created_at,
                api_keys.c.revoked_at,
            ).order_by(api_keys.c.created_at, api_keys.c.key_id)
        ).all()
    return [
        ApiKey(key_id, name, frozenset(scopes.split()), created, revoked)
        for key_id, name, scopes, created, revoked in rows
    ]


def revoke_key(engine: Engine, key_id: str, now: float) -> bool:
    """Revoke the key `key_id`; False when there is no such live key."""
    with engine.begin() as conn:
        result = conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return result.rowcount == 1


def find_key(engine: Engine, presented: str) -> ApiKey | None:
    """The live key `presented` is, or None (malformed, unknown, wrong secret or revoked)."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(
                api_keys.c.name,
                api_keys.c.secret_hash,
                api_keys.c.scopes,
                api_keys.c.created_at,
            ).where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
        ).first()
    if row is None or not hmac.compare_digest(row.secret_hash, digest(secret)):
        return None
    return ApiKey(key_id, row.name, frozenset(row.scopes.split()), row.created_at)
