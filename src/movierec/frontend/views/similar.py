"""Similar Movies page: pick a movie by typing part of its title, see the movies like it.

Each card says why the movie is there: how many people rated both it and the pick (and what
share of the pick's audience that is) and the genres the two have in common.
A Streamlit page script, run by `st.navigation` in `app.py`.
"""

from __future__ import annotations

import streamlit as st

from movierec.frontend.api_client import ApiError, Movie, SimilarMovie
from movierec.frontend.components import (
    current_catalogue,
    current_client,
    display_title,
    movie_cards,
    movie_label,
    seed_card,
    show_error,
)
from movierec.frontend.rating import rating_controls, show_feedback_error


def why(movie: SimilarMovie, seed_title: str) -> list[str]:
    """The lines that say why `movie` is similar to the seed: shared audience and genres."""
    lines = []
    if movie.shared_audience is not None and movie.audience_share is not None:
        people = "person" if movie.shared_audience == 1 else "people"
        lines.append(
            f"{movie.shared_audience:,} {people} rated both: {movie.audience_share:.0%} "
            f"of those who rated {display_title(seed_title)}"
        )
    if movie.shared_genres:
        lines.append(f"Shared genres: {', '.join(movie.shared_genres)}")
    return lines


def render() -> None:
    st.title(":material/join_inner: More like this")
    st.caption(
        "Pick a movie you liked: here are the movies its audience rated too, with the "
        "blockbusters that everyone rated held back."
    )
    show_feedback_error()
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
    controls = rating_controls("similar", answer.request_id)
    picked = Movie(movie_id=seed.movie_id, title=answer.title, year=seed.year, genres=seed.genres)
    seed_card(picked, controls=controls)
    st.subheader("You might also like", anchor=False)
    if not answer.similar_items:
        st.info("The model found no similar movie for this one.")
        return
    notes = [why(movie, answer.title) for movie in answer.similar_items]
    movie_cards(
        answer.similar_items, label="similarity", notes=notes, controls=controls, key="similar"
    )


render()
