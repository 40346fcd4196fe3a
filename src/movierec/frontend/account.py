"""The signed-in account of one browser session, kept in `st.session_state` only (never in
a cookie, a file or the cached API client, which every session shares).

`signed_in()` says who is signed in; personal pages call the API through `as_signed_in`,
which passes the access token and, when the API says it has expired, refreshes it once.
Signing out ends the session at the API and forgets everything of this browser session.
In `required` auth mode a signed-out visitor rates nothing: `must_sign_in()` says so, and
the pages show `sign_in_to_rate()` instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import streamlit as st

from movierec.config import load_settings
from movierec.frontend.api_client import ApiClient, ApiError, ApiRequestError

SESSION_KEY = "signed_in"
ACCOUNT_PAGE = "views/account.py"  # as `app.py` registers it, relative to that script
Answer = TypeVar("Answer")


@dataclass(frozen=True)
class SignedIn:
    email: str
    user_id: int
    access_token: str
    refresh_token: str


def signed_in() -> SignedIn | None:
    """The account signed in in this browser session, if any."""
    account: SignedIn | None = st.session_state.get(SESSION_KEY)
    return account


def sign_in(client: ApiClient, email: str, password: str) -> SignedIn:
    """Sign in at the API and remember the tokens in this session, forgetting what was typed
    before (another user's query); `ApiError` otherwise."""
    tokens = client.sign_in(email, password)
    account = client.me(tokens.access_token)
    signed = SignedIn(account.email, account.user_id, tokens.access_token, tokens.refresh_token)
    st.session_state.clear()
    st.session_state[SESSION_KEY] = signed
    return signed


def sign_out(client: ApiClient) -> None:
    """End the session at the API (if it answers) and forget this browser session's state."""
    account = signed_in()
    if account is not None:
        # Forgotten here either way; at the API the refresh token expires.
        with contextlib.suppress(ApiError):
            client.sign_out(account.refresh_token)
    st.session_state.clear()


def as_signed_in(client: ApiClient, call: Callable[[str | None], Answer]) -> Answer:
    """`call(access_token)` for the signed-in account (None when no one is), refreshing an
    expired token once; a refused refresh signs out and raises the API's answer."""
    account = signed_in()
    if account is None:
        return call(None)
    try:
        return call(account.access_token)
    except ApiRequestError as exc:
        if exc.status_code != 401:
            raise
    try:
        tokens = client.refresh(account.refresh_token)
    except ApiRequestError:
        st.session_state.clear()
        raise
    st.session_state[SESSION_KEY] = SignedIn(
        account.email, account.user_id, tokens.access_token, tokens.refresh_token
    )
    return call(tokens.access_token)


def must_sign_in() -> bool:
    """True when no one is signed in and the system requires it (auth `required` mode)."""
    return signed_in() is None and load_settings().auth.mode == "required"


def sign_in_to_rate() -> None:
    """The one line a signed-out visitor sees where they would rate: a link to sign in."""
    st.page_link(ACCOUNT_PAGE, label="Sign in to rate movies", icon=":material/login:")


def explained(error: ApiError, purpose: str = "see these picks") -> ApiError:
    """`error`, or for a 401 of a personal page, what to do about it in a person's words:
    sign in to do `purpose`."""
    if isinstance(error, ApiRequestError) and error.status_code == 401:
        return ApiRequestError(
            f"Sign in on the Account page to {purpose} (the service says: {error})", 401
        )
    return error
