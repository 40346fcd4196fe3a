"""Similar Movies page: pick a movie by typing part of its title, see the movies like it.

A Streamlit page script, run by `st.navigation` in `app.py`.
"""

from __future__ import annotations

import streamlit as st

from movierec.frontend.api_client import ApiError, Movie
from movierec.frontend.components import (
    current_catalogue,
    current_client,
    movie_cards,
    movie_label,
    seed_card,
    show_error,
)


def render() -> None:
    st.title(":material/join_inner: More like this")
    st.caption("Pick a movie you liked; the model finds the movies closest to it.")
    try:
        catalogue = current_catalogue()
    except ApiError as exc:
        show_error(exc)
        return
    by_id = {movie.movie_id: movie for movie in catalogue.movies}
    left, right = st.columns([3, 1])
    movie_id = left.selectbox(
        "Movie",
        options=list(by_id),
        index=None,
        format_func=lambda mid: movie_label(by_id[mid]),
        placeholder="Type part of a title…",
        help=f"Search the {len(by_id):,} movies of the catalogue by title.",
    )
    k = right.slider("How many", min_value=1, max_value=50, value=12)
    if movie_id is None:
        st.info("Start typing a title above, then pick the movie.", icon=":material/arrow_upward:")
        return
    try:
        answer = current_client().similar(movie_id, k=k)
    except ApiError as exc:
        show_error(exc)
        return
    seed = by_id[movie_id]
    st.subheader("Because you picked", anchor=False)
    seed_card(Movie(movie_id=seed.movie_id, title=answer.title, year=seed.year, genres=seed.genres))
    st.subheader("You might also like", anchor=False)
    if not answer.similar_items:
        st.info("The model found no similar movie for this one.")
        return
    movie_cards(answer.similar_items)


render()
