"""Rating a movie card: five stars and a "not for me" thumb under every card.

A star rating is sent as a `rating` event (1 to 5), the thumb as a `dislike`, each naming the
answer that showed the movie by its `request_id`, for the session's user (the signed-in
account's, with its token); a visitor who is nobody yet becomes a new user with that first
rating, except in `required` auth mode, where signed-out visitors get a link to sign in
instead of the controls. The callbacks run before the page's script reruns, so the page that
follows already shows the list the feedback changed.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from movierec.frontend import visitor
from movierec.frontend.account import as_signed_in, explained, must_sign_in, sign_in_to_rate
from movierec.frontend.api_client import ApiError, Movie
from movierec.frontend.components import current_client, display_title

STARS = 5
ERROR_KEY = "movierec_feedback_error"

Controls = Callable[[Movie], None]


def stars_text(value: float) -> str:
    """'★★★★☆' for 4 (halves round up)."""
    full = min(STARS, int(value + 0.5))
    return "★" * full + "☆" * (STARS - full)


def send(movie: Movie, event: str, value: float | None, request_id: str | None) -> None:
    """Send one event for the session's user (a new user when there is none) and say so."""
    client = current_client()
    known = visitor.current_user()
    title = display_title(movie.title)
    try:
        if known is None:
            user = client.create_user().user_id
            visitor.become(user)
            st.toast(f"Welcome! You are user {user}: your ratings shape **For you**.")
        else:
            user = known
        as_signed_in(
            client,
            lambda token: client.feedback(
                user, movie.movie_id, event, value, request_id, access_token=token
            ),
        )
    except ApiError as exc:
        why = explained(exc, "rate movies")
        st.session_state[ERROR_KEY] = f"Your feedback on {title} was not saved: {why}"
        return
    visitor.remember(visitor.Given(movie, event, value))
    said = f"rated {stars_text(value)}" if value is not None else "marked as not for you"
    st.toast(f"{title} {said}.", icon=":material/check:")


def _rated(movie: Movie, key: str, request_id: str | None) -> None:
    index = st.session_state.get(key)
    if index is not None:
        send(movie, visitor.RATING, float(index + 1), request_id)


def _disliked(movie: Movie, request_id: str | None) -> None:
    send(movie, visitor.DISLIKE, None, request_id)


def rating_controls(context: str, request_id: str | None) -> Controls | None:
    """The controls to show under each card of one answer (`request_id`) on one page
    (`context`, which keeps the widgets' keys apart); None, after a link to sign in, for a
    visitor who must sign in to rate."""
    if must_sign_in():
        sign_in_to_rate()
        return None

    def show(movie: Movie) -> None:
        owner = visitor.current_user() or "new"
        key = f"stars-{context}-{owner}-{movie.movie_id}"
        before = visitor.given().get(movie.movie_id)
        default = (
            int(before.value + 0.5) - 1 if before is not None and before.value is not None else None
        )
        row = st.container(horizontal=True, vertical_alignment="center", gap="small")
        with row:
            st.feedback(
                "stars",
                key=key,
                default=default,
                on_change=_rated,
                args=(movie, key, request_id),
            )
            st.button(
                "Not for me",
                key=f"dislike-{context}-{owner}-{movie.movie_id}",
                icon=":material/thumb_down:",
                type="tertiary",
                help="Never recommend this movie to me again",
                on_click=_disliked,
                args=(movie, request_id),
            )

    return show


def show_feedback_error() -> None:
    """Show, once, why the last rating or dislike could not be saved."""
    message = st.session_state.pop(ERROR_KEY, None)
    if message:
        st.error(message, icon=":material/error:")
