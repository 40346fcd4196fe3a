"""Who is calling and what they may do: the one authorisation of every personal route.

A caller is anonymous, a signed-in user (an access token: `Authorization: Bearer ...`) or a
service (an API key: `X-API-Key: mrk_...`). A personal route takes `access_for(scope)` as a
dependency and calls `await access.require(user_id, served)` once it knows the user:

- a user's token acts for its own user only (403 for another);
- an API key acts for any user when it holds the route's scope (403 otherwise);
- anonymous callers: in `required` mode, 401; in `demo` mode, any MovieLens user of the
  served dataset (ids up to its largest), and any other id no account owns (the unknown-user
  fallback, users made by POST /users); an id above the dataset's that an account owns needs
  that account's token.

Routes: /recommend (`recommend:any`), /feedback, /feedback/batch, POST /users and
DELETE /users/{id}/feedback (`feedback:any`); /admin/* needs `admin` (`deps.require_admin`).

In demo mode a MovieLens id an account claimed stays open to anonymous callers: demo users
are public sample data. Checking a token costs no query when it is bad; a good one costs one
(its session must not be signed out), as does an API key.

Usage:
    >>> RecommendAccess = Annotated[Access, Depends(access_for(RECOMMEND_ANY))]
    >>> async def recommend(access: RecommendAccess, served: ServedDep): ...
    ...     await access.require(body.user_id, served)
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from movierec.api.errors import ForbiddenError, NotAuthenticatedError
from movierec.api.login_limits import LoginLimiter
from movierec.api.schemas import ErrorResponse
from movierec.api.state import Served
from movierec.api.tokens import TokenError, decode
from movierec.config import AuthSettings, ConfigError
from movierec.endpoints import AUTH_SIGNUP, AUTH_TOKEN
from movierec.store.accounts import is_owned, session_is_live
from movierec.store.api_keys import ApiKey, find_key
from movierec.store.database import Database, create_engine

log = logging.getLogger(__name__)

RECOMMEND_ANY = "recommend:any"
FEEDBACK_ANY = "feedback:any"
ADMIN = "admin"
MIN_SECRET_CHARS = 32

user_token = OAuth2PasswordBearer(
    tokenUrl=AUTH_TOKEN,
    auto_error=False,
    scheme_name="UserToken",
    description="A signed-in user's access token (sign in with your email as username)",
)
api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="A service's API key (`movierec keys create`), acting within its scopes",
)

# The answers every personal route may add, for the OpenAPI document.
ACCESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Sign in (or send an API key) first"},
    403: {"model": ErrorResponse, "description": "Another user's data, or a missing scope"},
}


# The OpenAPI `security` of a personal route also lists no requirement at all (`{}`):
# demo mode serves anonymous callers there. Required mode answers them 401 (see above).
ANONYMOUS_TOO: dict[str, Any] = {"security": [{}]}


def signing_secret(settings: AuthSettings) -> str:
    """The secret tokens are signed with; `ConfigError` when `required` mode has none."""
    secret = settings.secret.get_secret_value()
    if len(secret) >= MIN_SECRET_CHARS:
        return secret
    if settings.mode == "required" or secret:
        raise ConfigError(
            f"auth.secret must hold at least {MIN_SECRET_CHARS} characters"
            + (" in required mode" if settings.mode == "required" else "")
            + ": set MOVIEREC_AUTH__SECRET, e.g. to the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return ""


class Accounts:
    """The accounts side of one API process: settings, the store and the login limits."""

    def __init__(self, settings: AuthSettings, database: Database) -> None:
        self.settings = settings
        self.required = settings.mode == "required"
        self.secret = signing_secret(settings)
        if not self.secret:
            log.warning(
                "auth.secret is not set: tokens are signed with a random secret and sign-ins "
                "end when this API stops; set MOVIEREC_AUTH__SECRET to keep them"
            )
            self.secret = secrets.token_urlsafe(32)
        self.engine = create_engine(database)
        self.limiter = LoginLimiter(
            self.engine, settings.failed_logins_per_account, settings.failed_logins_per_address
        )

    def close(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent the request: a signed-in user, an API key, or nobody (both None)."""

    account_id: int | None = None
    user_id: int | None = None
    key: ApiKey | None = None


ANONYMOUS = Caller()


SchemeToken = Annotated[str | None, Depends(user_token)]
SchemeKey = Annotated[str | None, Depends(api_key)]


async def get_caller(request: Request, token: SchemeToken, key: SchemeKey) -> Caller:
    """The request's caller; 401 for a key or token that is wrong, expired or revoked."""
    if key is None and token is None:
        return ANONYMOUS
    if key is not None:
        return Caller(key=await live_key(request, key))
    assert token is not None
    accounts: Accounts = request.app.state.accounts
    try:
        claims = decode(accounts.secret, token)
    except TokenError as exc:
        raise NotAuthenticatedError(str(exc)) from None
    live = await run_in_threadpool(session_is_live, accounts.engine, claims.session_id, time.time())
    if not live:
        raise NotAuthenticatedError("this sign-in has ended (signed out): sign in again")
    return Caller(account_id=claims.account_id, user_id=claims.user_id)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def live_key(request: Request, presented: str) -> ApiKey:
    """The live API key `presented` is; 401 when it is malformed, unknown or revoked."""
    accounts: Accounts = request.app.state.accounts
    found = await run_in_threadpool(find_key, accounts.engine, presented)
    if found is None:
        raise NotAuthenticatedError("the API key is not valid or has been revoked")
    return found


def require_scope(key: ApiKey, scope: str) -> None:
    """403 unless `key` holds `scope`."""
    if scope not in key.scopes:
        raise ForbiddenError(f"the API key {key.key_id} lacks the scope {scope!r}")


@dataclass(frozen=True, slots=True)
class Access:
    """A caller on a personal route whose API-key scope is `scope`."""

    caller: Caller
    scope: str
    accounts: Accounts

    async def require(self, user_id: int | None, served: Served) -> None:
        """Return when the caller may act for `user_id` here (None: for no user, as an
        anonymous history is); else 401 or 403."""
        if user_id is None:
            return
        caller = self.caller
        if caller.key is not None:
            require_scope(caller.key, self.scope)
            return
        if caller.user_id is not None:
            if caller.user_id != user_id:
                raise ForbiddenError(
                    f"you are signed in as user {caller.user_id} and may act only for that "
                    f"user, not for user {user_id}"
                )
            return
        if self.accounts.required:
            raise NotAuthenticatedError(
                f"sign in (POST {AUTH_TOKEN}) or send an API key to act for a user"
            )
        if user_id <= served.engine.largest_user_id:
            return
        if await run_in_threadpool(is_owned, self.accounts.engine, user_id):
            raise NotAuthenticatedError(
                f"user {user_id} belongs to an account: sign in as it to act for it"
            )

    def require_new_user(self) -> None:
        """Creating a user without an account: anyone in demo mode; in required mode only a
        service with the scope (people sign up instead)."""
        if self.caller.key is not None:
            require_scope(self.caller.key, self.scope)
        elif self.accounts.required:
            raise NotAuthenticatedError(
                f"in required mode users are created by signing up ({AUTH_SIGNUP}) or by a "
                f"service's API key with the scope {self.scope!r}"
            )


def access_for(
    scope: str,
) -> Callable[[Request, str | None, str | None], Awaitable[Access]]:
    """The dependency of a personal route whose API keys need `scope`.

    It takes the credentials itself and calls `get_caller`, rather than depending on
    `CallerDep`: each level of dependencies costs FastAPI more per request than the
    function it calls (the same OpenAPI security either way)."""

    async def access(request: Request, token: SchemeToken, key: SchemeKey) -> Access:
        return Access(await get_caller(request, token, key), scope, request.app.state.accounts)

    return access


RecommendAccess = Annotated[Access, Depends(access_for(RECOMMEND_ANY))]
FeedbackAccess = Annotated[Access, Depends(access_for(FEEDBACK_ANY))]


async def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


AccountsDep = Annotated[Accounts, Depends(get_accounts)]
