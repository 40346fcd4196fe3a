"""The movie catalogue and model description the pages need for their inputs and About page.

Both come from the API (`GET /movies`, `GET /model`): the frontend talks to the API only, so
it runs on any machine that can reach it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from movierec.frontend.api_client import ApiClient, ApiError, ModelDescription, Movie
from movierec.genres import distinct_genres


@dataclass
class Catalogue:
    """Every movie the model can recommend, with the genres and years they span and the
    movies' pages (movie_id -> url) where the dataset links one."""

    movies: list[Movie]
    source: str
    genres: list[str] = field(init=False)
    years: tuple[int, int] | None = field(init=False)
    links: dict[int, str] = field(init=False)

    def __post_init__(self) -> None:
        self.movies = sorted(self.movies, key=lambda m: m.title.casefold())
        self.genres = distinct_genres(m.genres for m in self.movies)
        years = [m.year for m in self.movies if m.year is not None]
        self.years = (min(years), max(years)) if years else None
        self.links = {m.movie_id: m.url for m in self.movies if m.url}


def load_catalogue(client: ApiClient) -> Catalogue:
    """The served catalogue; raises `ApiError` with a message for the page when unavailable."""
    return Catalogue(client.movies(), source="api")


def load_model_description(client: ApiClient) -> ModelDescription | None:
    """The served model's metadata (name, kind, metrics...), or None when it cannot be read."""
    try:
        return client.model()
    except ApiError:
        return None
