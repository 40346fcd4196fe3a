"""The card text helpers: MovieLens titles read naturally and are escaped in the HTML."""

from __future__ import annotations

import pytest

from movierec.frontend.api_client import Movie
from movierec.frontend.components import display_title, movie_label


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
