"""GET /movies: the served catalogue."""

from __future__ import annotations

from fastapi import APIRouter

from movierec.api.deps import ServedDep
from movierec.api.errors import ERROR_RESPONSES
from movierec.api.schemas import CatalogueMovie, MoviesResponse
from movierec.endpoints import MOVIES

router = APIRouter()


@router.get(MOVIES, response_model=MoviesResponse, responses=ERROR_RESPONSES)
async def movies(served: ServedDep) -> MoviesResponse:
    """The served catalogue: every movie with its year, genres and page (not logged: no ranking)."""
    return MoviesResponse(
        movies=[
            CatalogueMovie(
                movie_id=item.movie_id,
                title=item.title,
                year=item.year,
                genres=item.genres,
                url=item.url,
            )
            for item in served.engine.model.items
        ]
    )
