"""Account page: sign in, create an account, or sign out.

A Streamlit page script, run by `st.navigation` in `app.py`. Signed in, the personal pages
act for your own user; signed out (demo mode), they take any MovieLens user id.
"""

from __future__ import annotations

import streamlit as st

from movierec.frontend.account import sign_in, sign_out, signed_in
from movierec.frontend.api_client import ApiError
from movierec.frontend.components import current_client, show_error


def signed_in_view() -> None:
    account = signed_in()
    assert account is not None
    st.success(
        f"Signed in as **{account.email}** (user {account.user_id}). The personal pages now "
        "pick movies for you.",
        icon=":material/verified_user:",
    )
    if st.button("Sign out", icon=":material/logout:"):
        sign_out(current_client())
        st.rerun()


def sign_in_form() -> None:
    with st.form("sign_in"):
        email = st.text_input("Email", key="sign_in_email")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if submitted:
        try:
            sign_in(current_client(), email, password)
        except ApiError as exc:
            show_error(exc)
            return
        st.rerun()


def sign_up_form() -> None:
    with st.form("sign_up"):
        email = st.text_input("Email", key="sign_up_email")
        password = st.text_input(
            "Password", type="password", key="sign_up_password", help="8 characters or more."
        )
        submitted = st.form_submit_button(
            "Create account", type="primary", icon=":material/person_add:"
        )
    if submitted:
        client = current_client()
        try:
            client.sign_up(email, password)
            sign_in(client, email, password)
        except ApiError as exc:
            show_error(exc)
            return
        st.rerun()


def render() -> None:
    st.title(":material/account_circle: Your account")
    if signed_in() is not None:
        signed_in_view()
        return
    st.caption(
        "Sign in to get picks for your own user. Without an account, the demo lets you try "
        "any MovieLens user on the other pages."
    )
    sign_in_tab, sign_up_tab = st.tabs(["Sign in", "Create account"])
    with sign_in_tab:
        sign_in_form()
    with sign_up_tab:
        sign_up_form()


render()
