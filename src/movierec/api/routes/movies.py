"""GET /movies: the served catalogue, a page at a time, encoded once per model.

The answer carries an `ETag` (the catalogue's hash and the page) and `Cache-Control`; a
request whose `If-None-Match` names the current tag gets a bodiless 304. The JSON is made
when a model is loaded (`CatalogueJson`), so a request only copies bytes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from movierec.api.deps import ServedDep
from movierec.api.errors import ERROR_RESPONSES
from movierec.api.schemas import MoviesResponse
from movierec.endpoints import MOVIES

# Clients may reuse a page for a minute, then revalidate it with its ETag (a reload may
# change the catalogue).
CACHE_CONTROL = "public, max-age=60"

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "The catalogue page named by If-None-Match is current"},
    **ERROR_RESPONSES,
}

router = APIRouter()


@router.get(
    MOVIES,
    response_model=MoviesResponse,
    responses=NOT_MODIFIED,
)
async def movies(
    served: ServedDep,
    offset: Annotated[int, Query(ge=0, description="Movies to skip, in catalogue order")] = 0,
    limit: Annotated[int | None, Query(ge=1, description="Page size; all when absent")] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The served catalogue: every movie with its year, genres and page (not logged: no
    ranking), `limit` of them from `offset` when given."""
    catalogue = served.catalogue
    etag = catalogue.etag(offset, limit)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match is not None and etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(catalogue.page(offset, limit), media_type="application/json", headers=headers)
