"""The movie catalogue and model description the pages need for their inputs and About page.

They come from the API (`GET /movies`, `GET /model`) when it offers them; an API without
those routes is still usable: the catalogue and metadata are then read from the production
bundle in `serving.model_dir` (the same files the API loaded), so the Similar page can search
titles and the About page can show offline metrics either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from movierec.artifacts import ITEM_FEATURES, MODEL_METADATA, read_json
from movierec.frontend.api_client import (
    ApiClient,
    ApiError,
    ApiNotFoundError,
    ModelDescription,
    Movie,
)


class CatalogueUnavailableError(ApiError):
    """Neither the API nor the bundle on disk can list the movies."""


@dataclass
class Catalogue:
    """Every movie the model can recommend, with the genres and years they span."""

    movies: list[Movie]
    source: str
    genres: list[str] = field(init=False)
    years: tuple[int, int] | None = field(init=False)

    def __post_init__(self) -> None:
        self.movies = sorted(self.movies, key=lambda m: m.title.casefold())
        self.genres = sorted({g for m in self.movies for g in m.genres})
        years = [m.year for m in self.movies if m.year is not None]
        self.years = (min(years), max(years)) if years else None


def load_catalogue(client: ApiClient, model_dir: Path) -> Catalogue:
    """The catalogue from the API, or from `model_dir/item_features.json` if it has no route."""
    try:
        return Catalogue(client.movies(), source="api")
    except ApiNotFoundError:
        pass
    path = model_dir / ITEM_FEATURES
    try:
        records = read_json(path)
        return Catalogue([Movie.model_validate(r) for r in records], source=str(path))
    except (OSError, ValueError, ValidationError) as exc:
        raise CatalogueUnavailableError(
            f"The movie list is not available: the API at {client.base_url} has no /movies "
            f"route and {path} cannot be read ({type(exc).__name__}). Run `make train` to "
            "export a model, or set MOVIEREC_SERVING__MODEL_DIR to the API's model folder."
        ) from exc


def load_model_description(client: ApiClient, model_dir: Path) -> ModelDescription | None:
    """The served model's metadata (name, kind, metrics...), or None when nowhere to be read."""
    try:
        return client.model()
    except ApiNotFoundError:
        pass
    path = model_dir / MODEL_METADATA
    try:
        return ModelDescription.model_validate(read_json(path))
    except (OSError, ValueError, ValidationError):
        return None
