"""The card text helpers: MovieLens titles read naturally and are escaped in the HTML."""

from __future__ import annotations

import pytest

from movierec.frontend.api_client import Movie
from movierec.frontend.components import _card, display_title, movie_label


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("Star Wars (1977)", "Star Wars"),
        ("Usual Suspects, The (1995)", "The Usual Suspects"),
        ("Synthetic Movie 5", "Synthetic Movie 5"),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "City of Lost Children, The (Cité des enfants perdus, La)",
        ),
    ],
)
def test_display_title(title: str, shown: str) -> None:
    assert display_title(title) == shown


def test_movie_label_adds_the_year_once() -> None:
    movie = Movie(movie_id=1, title="Usual Suspects, The (1995)", year=1995, genres=["Crime"])
    assert movie_label(movie) == "The Usual Suspects (1995)"


def test_cards_label_the_score_and_escape_the_title() -> None:
    movie = Movie(movie_id=50, title="<b>Star Wars</b>", score=533.0, year=1977, genres=["Sci-Fi"])
    popular = _card(movie, rank=1, top_score=533.0, label="popularity")
    assert "popularity 533" in popular and "score 533" not in popular
    assert "&lt;b&gt;Star Wars&lt;/b&gt;" in popular and "<b>Star Wars" not in popular
    assert "score 0.5" in _card(movie.model_copy(update={"score": 0.5}), rank=2, top_score=1.0)
