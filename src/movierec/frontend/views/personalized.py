"""Personalized page: the top movies for one user, with genre and year filters.

The user is the session's (`visitor`): the id typed here, or the one a newcomer was given.
Each card says which of the user's movies it comes from and can be rated; a rating reruns
the page, so the list shown next already follows it.
A Streamlit page script, run by `st.navigation` in `app.py`.
"""

from __future__ import annotations

import streamlit as st

from movierec.frontend import visitor
from movierec.frontend.account import as_signed_in, explained, signed_in
from movierec.frontend.api_client import ApiError, Recommendations
from movierec.frontend.catalogue import Catalogue
from movierec.frontend.components import (
    because_lines,
    current_catalogue,
    current_client,
    movie_cards,
    show_error,
)
from movierec.frontend.rating import rating_controls, show_feedback_error

QUERY_KEY = "personalized_query"
# Fallbacks whose whole answer is the most popular movies.
POPULAR_REASONS = ("unknown_user", "new_user", "no_positive_feedback")


def parse_user_id(text: str) -> int:
    """The user id typed by a person; ValueError with a message when it is not one."""
    cleaned = text.strip()
    if not cleaned.isdigit() or int(cleaned) < 1:
        raise ValueError(
            f"“{text.strip()}” is not a user id: type a whole number of 1 or more, such as 42."
        )
    return int(cleaned)


def fallback_notice(answer: Recommendations) -> str:
    """Explain in a movie-goer's words why the answer is not (only) personal picks."""
    if answer.fallback_reason == "unknown_user":
        return (
            f"We have no ratings from user {answer.user_id} yet, so these are the most popular "
            "movies (matching your filters) instead of personal picks."
        )
    if answer.fallback_reason == "new_user":
        return (
            f"User {answer.user_id} has not rated anything yet, so these are the most popular "
            "movies. Rate a few below (or start on **New here?**) for personal picks."
        )
    if answer.fallback_reason == "no_positive_feedback":
        return (
            f"User {answer.user_id} has only told us what they dislike, so these are the most "
            "popular movies (without those). Rate a movie you liked for personal picks."
        )
    if answer.fallback_reason == "insufficient_candidates":
        return (
            f"Few movies match these filters for user {answer.user_id}, so the personal picks "
            "are topped up with popular movies. Widen the filters for more personal picks."
        )
    return (
        f"Not all of these are personal picks for user {answer.user_id}: popular movies fill "
        "the list."
    )


def query_form(catalogue: Catalogue | None) -> str | None:
    """The inputs; a submitted, valid query is kept in the session so results survive reruns.

    Returns the message for an invalid user id (the query is then forgotten), else None."""
    with st.form("personalized"):
        user_column, k_column, seen_column = st.columns([1, 2, 1.2], vertical_alignment="bottom")
        account = signed_in()
        user_text = user_column.text_input(
            "User id",
            value=str(account.user_id) if account else str(visitor.current_user() or 1),
            disabled=account is not None,
            help=(
                "Yours, as you are signed in."
                if account
                else "A MovieLens user id, e.g. 42, or the id you were given on New here?."
            ),
        )
        k = k_column.slider("How many movies", min_value=1, max_value=50, value=12)
        exclude_seen = seen_column.toggle("Hide movies already rated", value=True)
        genre_column, year_column = st.columns(2)
        genres = genre_column.multiselect(
            "Genres",
            options=catalogue.genres if catalogue else [],
            placeholder="Any genre",
            help="Only movies having at least one of these genres.",
        )
        years = None
        if catalogue and catalogue.years and catalogue.years[0] < catalogue.years[1]:
            years = year_column.slider(
                "Release years", catalogue.years[0], catalogue.years[1], value=catalogue.years
            )
        submitted = st.form_submit_button(
            "Recommend", type="primary", icon=":material/auto_awesome:"
        )
    if not submitted:
        return None
    try:  # signed in, the (disabled) box only shows the account's id
        user_id = account.user_id if account else parse_user_id(user_text)
    except ValueError as exc:
        st.session_state.pop(QUERY_KEY, None)
        return str(exc)
    full_range = catalogue.years if catalogue else None
    visitor.become(user_id)
    st.session_state[QUERY_KEY] = {
        "user_id": user_id,
        "k": k,
        "exclude_seen": exclude_seen,
        "genres": genres,
        "year_min": years[0] if years and full_range and years[0] > full_range[0] else None,
        "year_max": years[1] if years and full_range and years[1] < full_range[1] else None,
    }
    return None


def results() -> None:
    """Ask the API for the submitted query and show the answer."""
    query = st.session_state.get(QUERY_KEY)
    user = visitor.current_user()
    if query is None and user is not None:
        query = {"user_id": user, "k": 12, "exclude_seen": True}
    elif query is not None and user is not None and user != query["user_id"]:
        query = {**query, "user_id": user}  # became someone else on another page
    if query is None:
        st.info(
            "Type a user id and press **Recommend** to see their movies.",
            icon=":material/arrow_upward:",
        )
        return
    try:
        client = current_client()
        answer = as_signed_in(
            client, lambda token: client.recommend(**query, explain=True, access_token=token)
        )
    except ApiError as exc:
        show_error(explained(exc))
        return
    if answer.is_fallback:
        st.warning(fallback_notice(answer), icon=":material/ac_unit:")
    popular = answer.fallback_reason in POPULAR_REASONS
    if popular:
        st.subheader("Popular picks", anchor=False)
        st.caption("Most popular first")
    else:
        st.subheader(f"Picked for user {answer.user_id}", anchor=False)
        st.caption("Best match first, from the movies this user rated. Rate any of them below.")
    if not answer.recommendations:
        st.info("No movie matches these filters: widen the years or pick other genres.")
        return
    movie_cards(
        answer.recommendations,
        label="popularity" if popular else "match",
        notes=[because_lines(movie) for movie in answer.recommendations],
        controls=rating_controls("personalized", answer.request_id),
    )


def render() -> None:
    st.title(":material/recommend: Movies picked for you")
    st.caption(
        "Recommendations from what a MovieLens user has rated. "
        "Users the model does not know get the most popular movies instead."
    )
    try:
        catalogue: Catalogue | None = current_catalogue()
    except ApiError:
        catalogue = None
    show_feedback_error()
    invalid = query_form(catalogue)
    if invalid is not None:  # one message: no results hint below it
        st.error(invalid, icon=":material/front_hand:")
        return
    results()


render()
