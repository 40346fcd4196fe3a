"""Popular page: the most watched movies overall or of one genre.

A Streamlit page script, run by `st.navigation` in `app.py`.
"""

from __future__ import annotations

import streamlit as st

from movierec.frontend.api_client import ApiError
from movierec.frontend.components import (
    current_catalogue,
    current_client,
    movie_cards,
    show_error,
)
from movierec.frontend.rating import rating_controls, show_feedback_error

ALL_GENRES = "All"


def render() -> None:
    st.title(":material/local_fire_department: Popular right now")
    st.caption("The movies most users watched, overall or within a genre. Rate the ones you saw.")
    show_feedback_error()
    try:
        genres = current_catalogue().genres
    except ApiError:
        genres = []
    left, right = st.columns([1, 2])
    genre = left.selectbox("Genre", options=[ALL_GENRES, *genres])
    k = right.slider("How many movies", min_value=1, max_value=50, value=12)
    try:
        answer = current_client().popular(k=k, genre=None if genre == ALL_GENRES else genre)
    except ApiError as exc:
        show_error(exc)
        return
    heading = "Most popular movies" if genre == ALL_GENRES else f"Most popular in {genre}"
    st.subheader(heading, anchor=False)
    if not answer.recommendations:
        st.info("No movie of this genre is in the catalogue.")
        return
    movie_cards(
        answer.recommendations,
        label="popularity",
        controls=rating_controls("popular", answer.request_id),
    )


render()
