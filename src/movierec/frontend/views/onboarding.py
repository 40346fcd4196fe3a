"""New here? page: pick five or more movies you liked, get a personal list at once.

The picks become a new user's seed ratings (`POST /users`, each rated 5), or, signed in, the
account's own ratings (`POST /feedback/batch` with its token); the list that follows is that
user's recommendations, each saying which of the picks it comes from. The user is the
session's from then on, on every page. In `required` auth mode, signed-out visitors are sent
to sign in first.
A Streamlit page script, run by `st.navigation` in `app.py`.
"""

from __future__ import annotations

import streamlit as st

from movierec.frontend import visitor
from movierec.frontend.account import as_signed_in, must_sign_in, sign_in_to_rate, signed_in
from movierec.frontend.api_client import ApiError, Movie
from movierec.frontend.components import (
    because_lines,
    current_catalogue,
    current_client,
    movie_cards,
    movie_label,
    show_error,
)
from movierec.frontend.rating import rating_controls, show_feedback_error

MIN_PICKS = 5
MAX_PICKS = 20
LIKED = 5.0
PICKS_KEY = "onboarding_picks"
ONBOARDED_KEY = "onboarding_user"
LIST_LENGTH = 12


def picks_needed(picked: int) -> str:
    """What the button's caption says about the picks so far."""
    if picked >= MIN_PICKS:
        return f"{picked} movies picked: ready when you are."
    more = MIN_PICKS - picked
    return f"{picked} of {MIN_PICKS} picked: pick {more} more movie{'s' if more > 1 else ''}."


def start(picks: list[Movie]) -> None:
    """Rate the picks for the signed-in account, or create a user from them; the user is the
    session's from then on."""
    client = current_client()
    ratings = {movie.movie_id: LIKED for movie in picks}
    account = signed_in()
    try:
        if account is None:
            user = client.create_user(ratings).user_id
        else:
            user = account.user_id
            as_signed_in(client, lambda token: client.rate_all(user, ratings, token))
    except ApiError as exc:
        show_error(exc)
        return
    visitor.become(user)
    for movie in picks:
        visitor.remember(visitor.Given(movie, visitor.RATING, LIKED))
    st.session_state[ONBOARDED_KEY] = user


def picker() -> None:
    """Search and pick the movies; the button creates the user once there are enough."""
    try:
        catalogue = current_catalogue()
    except ApiError as exc:
        show_error(exc)
        return
    by_id = {movie.movie_id: movie for movie in catalogue.movies}
    chosen = st.multiselect(
        "Movies you liked",
        options=list(by_id),
        key=PICKS_KEY,
        format_func=lambda movie_id: movie_label(by_id[movie_id]),
        placeholder="Type part of a title, then pick the movie…",
        max_selections=MAX_PICKS,
        help=f"Search the {len(by_id):,} movies of the catalogue; pick at least {MIN_PICKS}.",
    )
    left, right = st.columns([1, 2], vertical_alignment="center")
    clicked = left.button(
        "Get my recommendations",
        type="primary",
        icon=":material/auto_awesome:",
        disabled=len(chosen) < MIN_PICKS,
    )
    right.caption(picks_needed(len(chosen)))
    if clicked:
        start([by_id[movie_id] for movie_id in chosen])
        st.rerun()


def personal_list(user: int) -> None:
    """The new user's recommendations, explained and rateable."""
    st.success(
        f"Welcome! You are user **{user}**: every rating you give refines your list, here and "
        "on **For you**.",
        icon=":material/celebration:",
    )
    client = current_client()
    try:
        answer = as_signed_in(
            client,
            lambda token: client.recommend(user, k=LIST_LENGTH, explain=True, access_token=token),
        )
    except ApiError as exc:
        show_error(exc)
        return
    st.subheader("Picked for you", anchor=False)
    st.caption("From the movies you liked, best match first. Rate them to tune the list.")
    if answer.is_fallback:
        st.warning(
            "Your picks are not enough for personal recommendations yet, so these are the most "
            "popular movies: rate a few more you liked.",
            icon=":material/ac_unit:",
        )
    movie_cards(
        answer.recommendations,
        notes=[because_lines(movie) for movie in answer.recommendations],
        controls=rating_controls("onboarding", answer.request_id),
    )
    if st.button("Start over with other movies", icon=":material/restart_alt:"):
        st.session_state.pop(ONBOARDED_KEY, None)
        st.session_state.pop(PICKS_KEY, None)
        st.rerun()


def render() -> None:
    st.title(":material/waving_hand: New here?")
    if must_sign_in():
        sign_in_to_rate()
        return
    st.caption(
        f"Pick {MIN_PICKS} or more movies you liked and get recommendations made for you at "
        "once: no account, no waiting for the model to learn."
    )
    show_feedback_error()
    user = st.session_state.get(ONBOARDED_KEY)
    if user is not None and user == visitor.current_user():
        personal_list(int(user))
    else:
        picker()


render()
