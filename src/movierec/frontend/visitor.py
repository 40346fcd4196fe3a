"""Who uses this browser session, and what they rated in it.

The session's user is the signed-in account's; signed out, the MovieLens id typed on "For
you", or the id the API gave a newcomer (on "New here?", or at a first rating anywhere). The
ratings and dislikes given in the session are kept, latest per movie, for "Your ratings": the
API stores every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from movierec.frontend.account import signed_in
from movierec.frontend.api_client import Movie

USER_KEY = "movierec_user"
GIVEN_KEY = "movierec_given"
DISLIKE = "dislike"
RATING = "rating"


@dataclass(frozen=True)
class Given:
    """A rating (`value` 0.5..5) or a dislike (`value` None) the visitor gave `movie`."""

    movie: Movie
    event: str
    value: float | None = None


def current_user() -> int | None:
    """The session's user id: the signed-in account's; else None before the visitor names or
    becomes one."""
    account = signed_in()
    if account is not None:
        return account.user_id
    user = st.session_state.get(USER_KEY)
    return int(user) if user is not None else None


def become(user_id: int) -> None:
    """Make `user_id` the session's user; what another user rated here is forgotten."""
    if current_user() != user_id:
        st.session_state[GIVEN_KEY] = {}
    st.session_state[USER_KEY] = user_id


def given() -> dict[int, Given]:
    """movie id -> what the session's user last gave it here, oldest first."""
    return dict(st.session_state.get(GIVEN_KEY, {}))


def remember(entry: Given) -> None:
    """Keep `entry` as the latest for its movie (moved to the end), without the score of the
    list it was rated in."""
    entries = given()
    entries.pop(entry.movie.movie_id, None)
    movie = Movie.model_validate(entry.movie.model_dump(include=set(Movie.model_fields)))
    entries[movie.movie_id] = Given(
        movie.model_copy(update={"score": None}), entry.event, entry.value
    )
    st.session_state[GIVEN_KEY] = entries


def forget_given() -> None:
    """Forget what the session's user rated here (after deleting it from the API)."""
    st.session_state[GIVEN_KEY] = {}
