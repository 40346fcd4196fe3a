"""Accounts: sign-up, sign-in (OAuth2 password flow), refresh, sign-out and `GET /me`.

The routes that hash or check a password are plain `def`: argon2id takes tens of
milliseconds by design, which the thread pool absorbs instead of the event loop. No answer
tells whether an email has an account: sign-up answers the same either way, and a failed
sign-in says "wrong email or password" after the same work for both cases.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from movierec.api import passwords, tokens
from movierec.api.access import ACCESS_RESPONSES, Accounts, AccountsDep, CallerDep
from movierec.api.deps import FeedbackDep, ServedDep
from movierec.api.emails import normalise_email
from movierec.api.errors import (
    ERROR_RESPONSES,
    ClaimTakenError,
    ForbiddenError,
    NotAuthenticatedError,
)
from movierec.api.schemas import (
    AccountResponse,
    ErrorResponse,
    RefreshRequest,
    SignupRequest,
    SignupResponse,
    TokenResponse,
)
from movierec.endpoints import AUTH_LOGOUT, AUTH_REFRESH, AUTH_SIGNUP, AUTH_TOKEN, ME
from movierec.store import accounts as store
from movierec.store.digests import new_secret

SIGNED_UP = "if this email had no account it has one now: sign in with it"
WRONG_LOGIN = "wrong email or password"
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "Too many wrong passwords; see Retry-After"}
}

router = APIRouter(tags=["accounts"])


@router.post(
    AUTH_SIGNUP,
    status_code=202,
    response_model=SignupResponse,
    responses={
        403: {"model": ErrorResponse, "description": "Claiming a MovieLens user outside demo mode"},
        409: {"model": ErrorResponse, "description": "The MovieLens user is claimed already"},
        **ERROR_RESPONSES,
    },
)
def signup(
    body: SignupRequest, accounts: AccountsDep, served: ServedDep, loop: FeedbackDep
) -> SignupResponse:
    """Create an account (202 whether or not the email was free, so that no one learns
    which emails have one); then sign in at /auth/token."""
    claim = body.movielens_user_id
    if claim is not None:
        if accounts.required:
            raise ForbiddenError("MovieLens users can be claimed in demo mode only")
        if claim not in served.engine.model.user_rows:
            raise ForbiddenError(
                f"user {claim} is not a MovieLens user of the served model; leave "
                "movielens_user_id out to get a user of your own"
            )
    password_hash = passwords.hash_password(body.password)  # also when the email is taken
    if store.find_by_email(accounts.engine, body.email) is not None:
        return SignupResponse(detail=SIGNED_UP)
    if claim is not None and store.is_owned(accounts.engine, claim):
        raise ClaimTakenError(f"MovieLens user {claim} belongs to an account already")
    user_id = claim or loop.create_user(served.engine.largest_user_id)
    store.create_account(
        accounts.engine, body.email, password_hash, user_id, claim is not None, time.time()
    )
    return SignupResponse(detail=SIGNED_UP)


@router.post(
    AUTH_TOKEN,
    response_model=TokenResponse,
    responses={401: {"model": ErrorResponse, "description": WRONG_LOGIN}, **RATE_LIMITED},
)
def sign_in(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    accounts: AccountsDep,
) -> TokenResponse:
    """Sign in with your email as `username` and your password (OAuth2 password flow)."""
    try:
        email = normalise_email(form.username)
    except ValueError:
        email = form.username.strip().lower()
    address = request.client.host if request.client else "unknown"
    accounts.limiter.check(email, address)
    found = store.find_by_email(accounts.engine, email)
    if not passwords.verify(found[1] if found else None, form.password) or found is None:
        accounts.limiter.failed(email, address)
        raise NotAuthenticatedError(WRONG_LOGIN)
    accounts.limiter.succeeded(email)
    account, password_hash = found
    if passwords.needs_rehash(password_hash):
        store.set_password_hash(
            accounts.engine, account.account_id, passwords.hash_password(form.password)
        )
    now, refresh_token = time.time(), new_secret()
    session_id = store.start_session(
        accounts.engine,
        account.account_id,
        refresh_token,
        now,
        now + accounts.settings.refresh_token_ttl_s,
    )
    return _tokens(accounts, account, session_id, refresh_token, now)


@router.post(
    AUTH_REFRESH,
    response_model=TokenResponse,
    responses={401: {"model": ErrorResponse, "description": "Unknown, expired or used token"}},
)
def refresh(body: RefreshRequest, accounts: AccountsDep) -> TokenResponse:
    """New tokens for a refresh token, which is used up: presenting it again ends the
    session (a copy in other hands is the likeliest reason)."""
    now, new_token = time.time(), new_secret()
    expires_at = now + accounts.settings.refresh_token_ttl_s
    session = store.rotate(accounts.engine, body.refresh_token, new_token, now, expires_at)
    account = store.get_account(accounts.engine, session.account_id) if session else None
    if session is None or account is None:
        raise NotAuthenticatedError(
            "the refresh token is not valid, has expired or was used already: sign in again"
        )
    return _tokens(accounts, account, session.session_id, new_token, now)


@router.post(AUTH_LOGOUT, status_code=204, response_class=Response)
def sign_out(body: RefreshRequest, accounts: AccountsDep) -> Response:
    """End the session of the refresh token: it and its access tokens stop working."""
    store.revoke_session(accounts.engine, body.refresh_token, time.time())
    return Response(status_code=204)


@router.get(ME, response_model=AccountResponse, responses=ACCESS_RESPONSES)
async def me(caller: CallerDep, accounts: AccountsDep) -> AccountResponse:
    """The signed-in account (needs a user's access token)."""
    if caller.key is not None:
        raise ForbiddenError("an API key has no account: /me needs a user's access token")
    if caller.account_id is None:
        raise NotAuthenticatedError(f"sign in (POST {AUTH_TOKEN}) to see your account")
    account = await run_in_threadpool(store.get_account, accounts.engine, caller.account_id)
    if account is None:
        raise NotAuthenticatedError("this account no longer exists")
    return AccountResponse(
        account_id=account.account_id,
        email=account.email,
        user_id=account.user_id,
        claimed=account.claimed,
        created_at=datetime.fromtimestamp(account.created_at, UTC),
    )


def _tokens(
    accounts: Accounts,
    account: store.Account,
    session_id: str,
    refresh_token: str,
    now: float,
) -> TokenResponse:
    ttl = accounts.settings.access_token_ttl_s
    access = tokens.issue(
        accounts.secret, account.account_id, account.user_id, session_id, now, ttl
    )
    return TokenResponse(
        access_token=access,
        token_type="bearer",
        expires_in=ttl,
        refresh_token=refresh_token,
        user_id=account.user_id,
    )
