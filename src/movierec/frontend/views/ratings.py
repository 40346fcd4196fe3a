"""Your ratings page: what the user rated and disliked, in any session, and a way to erase it.

The list is the service's (`GET /users/{id}/feedback`, latest rating or dislike per movie),
with what this session gave on top (a worker writes its events within a fraction of a
second). Each movie is a card that can be rated again; "Delete all my feedback" erases every event
of the user from the service (`DELETE /users/{id}/feedback`, with the signed-in account's
token), after which recommendations no longer use them. In `required` auth mode, signed-out
visitors are sent to sign in.
A Streamlit page script, run by `st.navigation` in `app.py`.
"""

from __future__ import annotations

import streamlit as st

from movierec.frontend import visitor
from movierec.frontend.account import as_signed_in, explained, must_sign_in, sign_in_to_rate
from movierec.frontend.api_client import ApiError, StoredFeedback
from movierec.frontend.catalogue import Catalogue
from movierec.frontend.components import (
    current_catalogue,
    current_client,
    movie_cards,
    show_error,
)
from movierec.frontend.rating import rating_controls, show_feedback_error, stars_text

DELETED_KEY = "ratings_deleted"


def verdict(entry: visitor.Given) -> str:
    """'You rated it ★★★★☆' or 'Not for you'."""
    if entry.value is None:
        return "You marked it: not for me"
    return f"You rated it {stars_text(entry.value)}"


def latest_given(events: list[StoredFeedback], catalogue: Catalogue) -> dict[int, visitor.Given]:
    """movie id -> the latest rating or dislike among `events` (newest first), oldest first;
    movies the catalogue no longer has are left out."""
    movies = {movie.movie_id: movie for movie in catalogue.movies}
    latest: dict[int, visitor.Given] = {}
    for event in events:
        kind = event.event
        if kind in (visitor.RATING, visitor.DISLIKE) and event.movie_id in movies:
            latest.setdefault(
                event.movie_id, visitor.Given(movies[event.movie_id], kind, event.value)
            )
    return dict(reversed(latest.items()))


def everything_given(user: int) -> dict[int, visitor.Given]:
    """What the user gave, from the service and this session (the session's is newer); the
    session's alone, with a warning, when the service cannot say."""
    client = current_client()
    try:
        events = as_signed_in(client, lambda token: client.feedback_history(user, token))
        stored = latest_given(events, current_catalogue())
    except ApiError as exc:
        st.warning(
            f"Showing this session's ratings only: {explained(exc, 'read your ratings')}",
            icon=":material/warning:",
        )
        stored = {}
    for movie_id, entry in visitor.given().items():
        stored.pop(movie_id, None)
        stored[movie_id] = entry
    return stored


def erase(user: int) -> None:
    """Delete the user's feedback from the service, then here."""
    client = current_client()
    try:
        deleted = as_signed_in(client, lambda token: client.delete_feedback(user, token))
    except ApiError as exc:
        show_error(explained(exc, "delete your feedback"))
        return
    visitor.forget_given()
    st.session_state[DELETED_KEY] = deleted


def render() -> None:
    st.title(":material/star: Your ratings")
    if must_sign_in():
        sign_in_to_rate()
        return
    show_feedback_error()
    user = visitor.current_user()
    if user is None:
        st.info(
            "You have not rated anything yet. Start on **New here?**, rate any movie card, or "
            "type your user id on **For you**.",
            icon=":material/info:",
        )
        return
    deleted = st.session_state.pop(DELETED_KEY, None)
    if deleted is not None:
        events = "event" if deleted == 1 else "events"
        st.success(
            f"Deleted {deleted} feedback {events} of user {user}: your recommendations no "
            "longer use them.",
            icon=":material/delete:",
        )
    st.caption(
        f"You are user {user}. These are the movies you rated or turned down, here and in "
        "earlier sessions, latest first; rate one again to change your mind."
    )
    entries = list(reversed(everything_given(user).values()))
    if entries:
        movie_cards(
            [entry.movie for entry in entries],
            ranked=False,
            notes=[[verdict(entry)] for entry in entries],
            controls=rating_controls("ratings", None),
        )
    else:
        st.info("Nothing rated yet.", icon=":material/info:")
    with st.expander("Privacy: delete my feedback"):
        st.write(
            f"Erase every rating, click and dislike the service holds for user {user}, from "
            "this session and any other. Your recommendations go back to what they were."
        )
        if st.button("Delete all my feedback", icon=":material/delete_forever:"):
            erase(user)
            st.rerun()


render()
