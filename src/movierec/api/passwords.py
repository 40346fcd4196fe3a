"""Passwords, hashed with argon2id (`argon2-cffi`'s defaults, RFC 9106's second profile).

`verify` takes the same time whether or not the account exists: for an unknown email it
checks the password against a hash of the same parameters, so a login's timing does not tell
whether an email has an account.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()


@lru_cache(maxsize=1)
def stand_in_hash() -> str:
    """A hash no password matches in practice, checked when the account does not exist."""
    return HASHER.hash("movierec stand-in: no account has this password")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches `stored_hash`; None (no account) costs one check too."""
    try:
        matched = HASHER.verify(stored_hash or stand_in_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (rehash at login)."""
    return HASHER.check_needs_rehash(stored_hash)
