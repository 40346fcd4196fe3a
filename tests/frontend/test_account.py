"""The account page through Streamlit's `AppTest`: sign up, act for your own user, sign out,
against a real API process (demo mode)."""

from __future__ import annotations

import itertools
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.frontend.test_pages import MakeApp, no_exception, open_page

pytestmark = pytest.mark.timeout(180)
_people = itertools.count()


def button(at: AppTest, label: str) -> AppTest:
    (found,) = [b for b in at.button if b.label == label]
    found.click().run()
    no_exception(at)
    return at


def test_sign_up_recommend_as_yourself_and_sign_out(frontend_app: MakeApp, api_url: str) -> None:
    email = f"viewer{next(_people)}@example.org"
    at = open_page(frontend_app, api_url, "account")
    at.text_input(key="sign_up_email").input(email)
    at.text_input(key="sign_up_password").input("a long password")
    button(at, "Create account")
    (welcome,) = [s.value for s in at.success if "Signed in as" in s.value]
    assert f"Signed in as **{email}**" in welcome
    user_id = int(re.search(r"user (\d+)", welcome).group(1))  # type: ignore[union-attr]
    session = at.session_state["signed_in"]  # the tokens live in the session's state only
    assert session.user_id == user_id and session.access_token
    assert all(session.access_token not in str(element.value) for element in at.text_input)
    at.switch_page("views/personalized.py").run()
    assert at.text_input[0].value == str(user_id) and at.text_input[0].disabled
    button(at, "Recommend")
    assert not at.error
    # Asked as that user (anonymously, an account's user is a 401): popular picks, no history.
    assert f"user {user_id}" in at.warning[0].value.lower()
    at.switch_page("views/account.py").run()
    button(at, "Sign out")
    assert not [s for s in at.success if "Signed in as" in s.value]
    assert [tab.label for tab in at.tabs] == ["Sign in", "Create account"]
    at.switch_page("views/personalized.py").run()
    assert at.text_input[0].value == "1" and not at.text_input[0].disabled


def test_a_wrong_password_is_a_message(frontend_app: MakeApp, api_url: str) -> None:
    at = open_page(frontend_app, api_url, "account")
    at.text_input(key="sign_in_email").input("nobody@example.org")
    at.text_input(key="sign_in_password").input("whatever it is")
    button(at, "Sign in")
    assert at.error[0].value == "wrong email or password"
    assert not [s for s in at.success if "Signed in as" in s.value]
