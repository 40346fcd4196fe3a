"""Your ratings page: what the session's user rated and disliked here, and a way to erase it.

Each movie is a card that can be rated again; "Delete all my feedback" erases every event
of the user from the service (`DELETE /users/{id}/feedback`, with the signed-in account's
token), after which recommendations no longer use them. In `required` auth mode, signed-out
visitors are sent to sign in.
A Streamlit page script, run by `st.navigation` in `app.py`.
"""

from __future__ import annotations

import streamlit as st

from movierec.frontend import visitor
from movierec.frontend.account import as_signed_in, explained, must_sign_in, sign_in_to_rate
from movierec.frontend.api_client import ApiError
from movierec.frontend.components import current_client, movie_cards, show_error
from movierec.frontend.rating import rating_controls, show_feedback_error, stars_text

DELETED_KEY = "ratings_deleted"


def verdict(entry: visitor.Given) -> str:
    """'You rated it ★★★★☆' or 'Not for you'."""
    if entry.value is None:
        return "You marked it: not for me"
    return f"You rated it {stars_text(entry.value)}"


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
        f"You are user {user}. These are the movies you rated or turned down in this browser "
        "session, latest first; rate one again to change your mind."
    )
    entries = list(reversed(visitor.given().values()))
    if entries:
        movie_cards(
            [entry.movie for entry in entries],
            ranked=False,
            notes=[[verdict(entry)] for entry in entries],
            controls=rating_controls("ratings", None),
        )
    else:
        st.info("Nothing rated in this session yet.", icon=":material/info:")
    with st.expander("Privacy: delete my feedback"):
        st.write(
            f"Erase every rating, click and dislike the service holds for user {user}, from "
            "this session and any other. Your recommendations go back to what they were."
        )
        if st.button("Delete all my feedback", icon=":material/delete_forever:"):
            erase(user)
            st.rerun()


render()
