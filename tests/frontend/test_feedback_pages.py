"""The feedback loop in the frontend through Streamlit's `AppTest`, against a real API process:
onboarding, rating and disliking cards, explanations, "Your ratings" and deleting feedback.

Every test works with its own user (a fresh one, or a MovieLens id no other test uses), since
the API process and its store are shared by the session.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from movierec.frontend.api_client import ApiClient
from movierec.frontend.components import because_lines
from tests.frontend.test_pages import cards, no_exception, open_page, submit_user

pytestmark = pytest.mark.timeout(180)

MakeApp = Callable[[str], AppTest]
N_USERS = 120  # the synthetic bundle's users: ids the API creates lie above


def onboard(at: AppTest, movie_ids: list[int]) -> AppTest:
    """Pick `movie_ids` on New here? and ask for recommendations."""
    for movie_id in movie_ids:
        at.multiselect[0].select(movie_id)
    at.run()
    no_exception(at)
    at.button[0].click().run()
    no_exception(at)
    return at


def session_user(at: AppTest) -> int:
    return int(at.session_state["movierec_user"])


def test_onboarding_needs_five_picks_then_shows_an_explained_personal_list(
    frontend_app: MakeApp, api_url: str, catalogue_records: list[dict]
) -> None:
    titles = {r["movie_id"]: r["title"] for r in catalogue_records}
    at = open_page(frontend_app, api_url, "onboarding")
    assert not cards(at)
    picks = [r["movie_id"] for r in catalogue_records[:90:18]]  # 5 movies across the catalogue
    for picked, movie_id in enumerate(picks[:4], 1):
        at.multiselect[0].select(movie_id).run()
        assert at.button[0].disabled, f"{picked} picks must not be enough"
        assert f"{picked} of 5 picked" in at.main.caption[-1].value
    onboard(at, picks[4:])
    user = session_user(at)
    assert user > N_USERS
    assert f"You are user **{user}**" in at.success[0].value
    assert not at.warning, "five liked movies are enough for a personal list"
    shown = cards(at)
    assert len(shown) == 12 and not {movie_id for movie_id, _ in shown} & set(picks)
    with ApiClient(api_url) as client:
        answer = client.recommend(user, k=12, explain=True)
    assert not answer.is_fallback
    assert [m.movie_id for m in answer.recommendations] == [movie_id for movie_id, _ in shown]
    picked_titles = {titles[m] for m in picks}
    for movie, (_, body) in zip(answer.recommendations, shown, strict=True):
        assert movie.because and {r.title for r in movie.because} <= picked_titles
        (line,) = because_lines(movie)
        assert line.startswith("Because you watched ") and html.escape(line) in body


def test_rating_a_card_updates_the_list_at_once(frontend_app: MakeApp, api_url: str) -> None:
    at = submit_user(open_page(frontend_app, api_url, "personalized"), "11")
    before = [movie_id for movie_id, _ in cards(at)]
    assert len(before) == 12 and len(at.feedback) == 12
    at.feedback[0].set_value(4).run()  # five stars on the first card
    no_exception(at)
    after = [movie_id for movie_id, _ in cards(at)]
    assert before[0] not in after, "a rated movie is hidden (Hide movies already rated)"
    assert len(after) == 12 and set(after) - set(before), "another movie takes its place"
    assert "rated ★★★★★" in at.toast[0].value
    with ApiClient(api_url) as client:
        assert before[0] not in [m.movie_id for m in client.recommend(11, k=12).recommendations]

    at.switch_page("views/ratings.py").run()
    no_exception(at)
    (rated,) = cards(at)
    assert rated[0] == before[0] and "You rated it ★★★★★" in rated[1]
    assert at.feedback[0].value == 4, "the stars given are shown again"


def test_a_dislike_is_never_recommended_again(frontend_app: MakeApp, api_url: str) -> None:
    at = submit_user(open_page(frontend_app, api_url, "personalized"), "17")
    first = cards(at)[0][0]
    at.button(key=f"dislike-personalized-17-{first}").click().run()
    no_exception(at)
    assert "marked as not for you" in at.toast[0].value
    assert first not in [movie_id for movie_id, _ in cards(at)]
    at.toggle[0].set_value(False)  # show movies already rated: still not the disliked one
    at.button[0].click().run()
    assert first not in [movie_id for movie_id, _ in cards(at)]
    at.switch_page("views/ratings.py").run()
    assert "not for me" in cards(at)[0][1]


def test_a_visitor_who_rates_a_popular_movie_becomes_a_user(
    frontend_app: MakeApp, api_url: str
) -> None:
    at = open_page(frontend_app, api_url, "popular")
    assert "movierec_user" not in at.session_state
    popular = cards(at)[0][0]
    at.feedback[0].set_value(3).run()
    no_exception(at)
    user = session_user(at)
    assert user > N_USERS and any(f"You are user {user}" in toast.value for toast in at.toast)
    assert at.feedback[0].value == 3, "the popular list keeps the movie, with its stars"
    at.switch_page("views/personalized.py").run()
    no_exception(at)
    assert at.text_input[0].value == str(user)
    assert f"Picked for user {user}" in at.subheader[0].value, "one 4-star rating is personal"
    assert popular not in [movie_id for movie_id, _ in cards(at)]


def test_deleting_my_feedback_forgets_it_everywhere(frontend_app: MakeApp, api_url: str) -> None:
    at = submit_user(open_page(frontend_app, api_url, "personalized"), "23")
    rated = []
    for stars in (4, 0):  # five stars on the first card, then one on the new first card
        rated.append(cards(at)[0][0])
        at.feedback[0].set_value(stars).run()
    at.switch_page("views/ratings.py").run()
    assert {movie_id for movie_id, _ in cards(at)} == set(rated)
    (delete,) = [b for b in at.button if b.label == "Delete all my feedback"]
    delete.click().run()
    no_exception(at)
    assert "Deleted 2 feedback events of user 23" in at.success[0].value
    assert not cards(at) and "Nothing rated yet." in at.info[0].value
    with ApiClient(api_url) as client:
        shown = [m.movie_id for m in client.recommend(23, k=90).recommendations]
    assert set(rated) <= set(shown), "deleted ratings no longer hide their movies"


def test_your_ratings_lists_what_earlier_sessions_gave(frontend_app: MakeApp, api_url: str) -> None:
    with ApiClient(api_url) as client:  # another session, another device: straight to the API
        for movie_id, event, value in [
            (5, "rating", 2.0),
            (6, "click", None),
            (7, "dislike", None),
            (5, "rating", 4.5),  # changed its mind: the latest counts (halves round up)
        ]:
            client.feedback(41, movie_id, event, value)
    at = submit_user(open_page(frontend_app, api_url, "personalized"), "41")
    at.switch_page("views/ratings.py").run()
    no_exception(at)
    shown = cards(at)
    assert [movie_id for movie_id, _ in shown] == [5, 7], "latest first, the click left out"
    assert "You rated it ★★★★★" in shown[0][1] and "not for me" in shown[1][1]


def test_your_ratings_before_any_rating_says_where_to_start(
    frontend_app: MakeApp, api_url: str
) -> None:
    at = open_page(frontend_app, api_url, "ratings")
    assert "You have not rated anything yet" in at.info[0].value and not cards(at)
