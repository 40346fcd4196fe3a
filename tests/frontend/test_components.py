"""The card text helpers: MovieLens titles read naturally, are escaped in the HTML and link
the movie's page."""

from __future__ import annotations

import html

import pytest

from movierec.frontend.api_client import Movie
from movierec.frontend.components import _card, display_title, link_label, movie_label


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
    assert 'title="popularity 533">popularity<' in popular and "match" not in popular
    assert "&lt;b&gt;Star Wars&lt;/b&gt;" in popular and "<b>Star Wars" not in popular
    half = _card(movie.model_copy(update={"score": 0.5}), rank=2, top_score=1.0)
    assert 'title="match 0.5">match<' in half and "width: 50%" in half
    assert "<a " not in half  # no page, no link


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("https://www.imdb.com/find/?q=Star+Wars+%281977%29&s=tt", "Find on IMDb"),
        ("https://www.imdb.com/title/tt0076759/", "IMDb"),
        ("https://www.themoviedb.org/movie/11", "TMDB"),
        ("https://example.org/star-wars", "Movie page"),
    ],
)
def test_a_card_links_the_movie_page_in_a_new_tab(url: str, label: str) -> None:
    movie = Movie(movie_id=50, title="Star Wars (1977)", year=1977, url=url)
    card = _card(movie, rank=1, top_score=0.0)
    link = f'href="{html.escape(url)}" target="_blank" rel="noopener noreferrer"'
    assert f'<div class="mr-title"><a {link} title="{label}">Star Wars</a>' in card
    assert f'<a class="mr-link" {link}>{label} ↗</a>' in card


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.org/x", "not a url"])
def test_a_card_never_links_anything_but_a_web_page(url: str) -> None:
    assert link_label(url) is None
    assert "<a " not in _card(Movie(movie_id=1, title="Film", url=url), rank=1, top_score=0.0)
