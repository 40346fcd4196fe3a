"""Rating, onboarding and "Your ratings" for the signed-in account, through Streamlit's
`AppTest` against a real API process in demo and in required mode: what is given is stored
under the account's own user (read back from the API's store), no other user can be named,
a signed-out visitor of a required-mode system is told to sign in, and signing out forgets
the account's ratings.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from movierec.frontend.api_client import ApiClient, ApiRequestError
from movierec.store.tables import feedback_events
from tests.databases import table_rows
from tests.frontend.test_account import button
from tests.frontend.test_feedback_pages import onboard
from tests.frontend.test_pages import MakeApp, cards, no_exception, open_page, submit_user
from tests.servers import running_api

pytestmark = pytest.mark.timeout(180)
REQUIRED = {
    "MOVIEREC_AUTH__MODE": "required",
    "MOVIEREC_AUTH__SECRET": "a-frontend-test-secret-of-32-characters-or-more",
}
PASSWORD = "a long password"
OTHER_USER = 7  # a MovieLens user of the bundle, open to anyone in demo mode
STORED_WITHIN_S = 30.0  # the API's writer stores an accepted event within a second or so
_people = itertools.count()


@dataclass(frozen=True)
class Service:
    """An API process, its store and the auth mode both it and the frontend run in."""

    url: str
    store: Path
    mode: str


@pytest.fixture(scope="module")
def required_service(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    store = tmp_path_factory.mktemp("required") / "store.db"
    with running_api(model_dir, store, env=REQUIRED, timeout=180) as url:
        yield Service(url, store, "required")


@pytest.fixture(params=["demo", "required"])
def service(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The demo API every frontend test shares, or this module's required-mode one; the
    frontend is configured in the same mode."""
    if request.param == "demo":
        found = Service(
            request.getfixturevalue("api_url"), request.getfixturevalue("api_store"), "demo"
        )
    else:
        found = request.getfixturevalue("required_service")
    monkeypatch.setenv("MOVIEREC_AUTH__MODE", found.mode)
    return found


def sign_in(at: AppTest, service: Service) -> int:
    """Sign in to a new account on the Account page; its user id."""
    email = f"rater{next(_people)}@example.org"
    with ApiClient(service.url) as client:
        client.sign_up(email, PASSWORD)
    at.switch_page("views/account.py").run()
    at.text_input(key="sign_in_email").input(email)
    at.text_input(key="sign_in_password").input(PASSWORD)
    button(at, "Sign in")
    user_id: int = at.session_state["signed_in"].user_id
    return user_id


def signed_in_app(make_app: MakeApp, service: Service) -> tuple[AppTest, int]:
    """The app signed in to a new account; and the account's user id."""
    at = open_page(make_app, service.url, "account")
    return at, sign_in(at, service)


Stored = list[tuple[int, str, float | None]]


def stored_now(service: Service, user_id: int) -> Stored:
    """(movie, event, value) of every feedback event of `user_id` in the API's store."""
    return [
        (row["movie_id"], row["event"], row["value"])
        for row in table_rows(service.store, feedback_events)
        if row["user_id"] == user_id
    ]


def stored(service: Service, user_id: int, expected: int) -> Stored:
    """`stored_now`, once it holds `expected` events (the API writes accepted events in the
    background) or after a while."""
    deadline = time.monotonic() + STORED_WITHIN_S
    rows = stored_now(service, user_id)
    while len(rows) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = stored_now(service, user_id)
    return rows


def rate_first_popular(at: AppTest, stars: int) -> int:
    """Rate the first card of the Popular page `stars` (1..5); its movie id."""
    at.switch_page("views/popular.py").run()
    no_exception(at)
    movie = cards(at)[0][0]
    at.feedback[0].set_value(stars - 1).run()
    no_exception(at)
    return movie


def test_signed_in_ratings_are_the_accounts_own_and_can_be_forgotten(
    frontend_app: MakeApp, service: Service
) -> None:
    at, user_id = signed_in_app(frontend_app, service)
    movie = rate_first_popular(at, 4)
    assert not at.error and "rated ★★★★☆" in at.toast[0].value
    assert not [t for t in at.toast if "Welcome" in t.value], "no new user made for the account"
    assert stored(service, user_id, 1) == [(movie, "rating", 4.0)]

    at.switch_page("views/ratings.py").run()
    no_exception(at)
    assert [movie_id for movie_id, _ in cards(at)] == [movie]
    assert f"You are user {user_id}." in at.caption[0].value
    button(at, "Delete all my feedback")
    assert f"Deleted 1 feedback event of user {user_id}" in at.success[0].value
    assert stored(service, user_id, 0) == []


def test_a_signed_in_visitor_acts_for_no_other_user(
    frontend_app: MakeApp, service: Service
) -> None:
    at = open_page(frontend_app, service.url, "personalized")
    if service.mode == "demo":  # a demo visitor trying MovieLens user 7 first
        submit_user(at, str(OTHER_USER))
        assert f"Picked for user {OTHER_USER}" in at.subheader[0].value
    user_id = sign_in(at, service)
    at.switch_page("views/personalized.py").run()
    (field,) = at.text_input
    assert field.value == str(user_id) and field.disabled, "the picker shows the account's id"
    button(at, "Recommend")
    assert not at.error, [e.value for e in at.error]
    assert f"user {user_id}" in at.warning[0].value.lower(), "the account's own (new) user"
    movie = cards(at)[0][0]
    at.feedback[0].set_value(2).run()
    no_exception(at)
    assert stored(service, user_id, 1) == [(movie, "rating", 3.0)]
    assert (movie, "rating", 3.0) not in stored_now(service, OTHER_USER)
    at.switch_page("views/ratings.py").run()
    assert [movie_id for movie_id, _ in cards(at)] == [movie]
    # The token the pages send acts for the account only: the API refuses any other user.
    token = at.session_state["signed_in"].access_token
    with ApiClient(service.url) as client, pytest.raises(ApiRequestError) as refused:
        client.feedback(OTHER_USER, movie, "rating", 1.0, access_token=token)
    assert refused.value.status_code == 403


def test_onboarding_signed_in_seeds_the_accounts_own_user(
    frontend_app: MakeApp, service: Service, catalogue_records: list[dict]
) -> None:
    at, user_id = signed_in_app(frontend_app, service)
    at.switch_page("views/onboarding.py").run()
    picks = [r["movie_id"] for r in catalogue_records[:90:18]]
    onboard(at, picks)
    assert not at.error, [e.value for e in at.error]
    assert f"You are user **{user_id}**" in at.success[0].value
    assert not at.warning, "five liked movies are enough for a personal list"
    assert len(cards(at)) == 12
    assert sorted(stored(service, user_id, 5)) == [
        (movie, "rating", 5.0) for movie in sorted(picks)
    ]


def test_sign_out_forgets_the_accounts_ratings(frontend_app: MakeApp, service: Service) -> None:
    at, user_id = signed_in_app(frontend_app, service)
    movie = rate_first_popular(at, 5)
    assert stored(service, user_id, 1) == [(movie, "rating", 5.0)]
    at.switch_page("views/account.py").run()
    button(at, "Sign out")
    assert all(
        key not in at.session_state for key in ("signed_in", "movierec_user", "movierec_given")
    )

    at.switch_page("views/popular.py").run()
    no_exception(at)
    assert cards(at)[0][0] == movie
    assert all(stars.value is None for stars in at.feedback), "no stars of the account shown"
    at.switch_page("views/ratings.py").run()
    no_exception(at)
    assert not cards(at) and f"user {user_id}" not in str([c.value for c in at.caption])


def test_signed_out_in_required_mode_is_told_to_sign_in_to_rate(
    frontend_app: MakeApp, required_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOVIEREC_AUTH__MODE", "required")
    at = open_page(frontend_app, required_service.url, "popular")
    for page in ("popular", "onboarding", "ratings"):
        at.switch_page(f"views/{page}.py").run()
        no_exception(at)
        assert not at.error and not at.feedback and not at.button and not at.multiselect, page
        (link,) = at.page_link
        assert link.value == "Sign in to rate movies" and link.proto.page == "account", page


def test_a_frontend_unaware_of_required_mode_says_sign_in_when_a_rating_is_refused(
    frontend_app: MakeApp, required_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOVIEREC_AUTH__MODE", "demo")  # configured apart from its API
    at = open_page(frontend_app, required_service.url, "popular")
    at.feedback[0].set_value(4).run()
    no_exception(at)
    (error,) = at.error
    assert "was not saved: Sign in on the Account page to rate movies" in error.value
