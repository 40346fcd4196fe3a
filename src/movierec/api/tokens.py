"""Access tokens: short-lived JWTs (HS256, `pyjwt`) naming the account, its user and the
session they were issued in.

The signature, expiry and required claims are checked here; whether the session is still
live (not signed out) is the store's to say (`movierec.store.accounts.session_is_live`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
KIND = "access"


class TokenError(Exception):
    """The token is malformed, tampered with or expired; the message says which."""


@dataclass(frozen=True)
class AccessClaims:
    account_id: int
    user_id: int
    session_id: str
    expires_at: int


def issue(
    secret: str, account_id: int, user_id: int, session_id: str, now: float, ttl_s: int
) -> str:
    """A signed access token valid for `ttl_s` seconds from `now`."""
    claims = {
        "sub": str(account_id),
        "uid": user_id,
        "sid": session_id,
        "typ": KIND,
        "iat": int(now),
        "exp": int(now) + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode(secret: str, token: str) -> AccessClaims:
    """The claims of a valid access token; `TokenError` for any other token."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "uid", "sid", "typ", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the access token has expired: refresh it or sign in again") from None
    except jwt.InvalidTokenError:
        raise TokenError("the access token is not valid: sign in again") from None
    if claims["typ"] != KIND or not str(claims["sub"]).isdigit():
        raise TokenError("the access token is not valid: sign in again")
    return AccessClaims(int(claims["sub"]), int(claims["uid"]), str(claims["sid"]), claims["exp"])
