"""The FastAPI app: `create_app` factory, lifespan and the (thin) routes.

Run it with `movierec serve` or `uvicorn movierec.api.main:create_app --factory`. The model is
loaded in the lifespan, never at import. /recommend, /similar and /popular are `async def`:
their numpy work takes microseconds on the event loop, less than a hop to the thread pool
would cost (see benchmarks/serving.py); /admin/reload is a plain `def` because loading a
bundle blocks for as long as reading it takes.

Decisions: /health answers 503 with `status: "not_ready"` and a `reason` while no model is
loaded (200 with `status: "ok"` otherwise), so load balancers and the frontend read the same
thing. A reload that finds a bad bundle answers 409 and the previous model keeps serving.
/docs (Swagger UI) and /redoc load their scripts and styles from the API itself (the assets
`fastapi-offline` ships, under /static-offline-docs), so they work with no internet access.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import faiss
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi_offline import FastAPIOffline
from threadpoolctl import threadpool_limits

from movierec.api.deps import RecommenderDep, StateDep, require_admin
from movierec.api.errors import ReloadRejectedError, install_error_handlers
from movierec.api.logger import ServedRequest
from movierec.api.middleware import TRACE_KEY, RequestLogMiddleware, RequestTrace
from movierec.api.recommender import Ranking, Recommender
from movierec.api.render import encode, format_scores, json_object
from movierec.api.schemas import (
    MAX_K,
    CatalogueMovie,
    ErrorResponse,
    Filters,
    HealthResponse,
    LogCounters,
    MoviesResponse,
    PopularResponse,
    RecommendRequest,
    RecommendResponse,
    ReloadResponse,
    SimilarRequest,
    SimilarResponse,
    openapi_body,
    parse_body,
)
from movierec.api.state import ServingState
from movierec.artifacts import BundleError, ModelMetadata
from movierec.config import ServingSettings, get_settings

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in [
        (413, "Body too large"),
        (415, "Body is not JSON"),
        (422, "A field is missing, malformed or out of range"),
        (503, "No model loaded; the detail names the command that builds one"),
    ]
}

NO_FILTERS = Filters()

router = APIRouter()


def serve(
    request: Request, endpoint: str, user_id: int | None, recommender: Recommender, ranking: Ranking
) -> str:
    """The ranking's movies as a JSON array; what was served is left on the request's trace for
    the middleware to log (the scores exactly as answered)."""
    columns = ranking.columns.tolist()
    scores = format_scores(ranking.scores.tolist())
    trace: RequestTrace = request.scope[TRACE_KEY]
    trace.served = ServedRequest(
        endpoint,
        user_id,
        recommender.version,
        [recommender.movie_ids[column] for column in columns],
        f"[{','.join(scores)}]",
        ranking.is_fallback,
        ranking.fallback_reason,
    )
    return recommender.movie_json.array(columns, scores, ranking.reasons)


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def health(state: StateDep, response: Response) -> HealthResponse:
    """Service status; 503 with `status: "not_ready"` and a reason while no model is loaded."""
    recommender = state.recommender
    counters = LogCounters(**vars(state.logger.stats()))
    if recommender is None:
        response.status_code = 503
        return HealthResponse(
            status="not_ready",
            reason=state.not_ready_reason,
            model_version=None,
            model_name=None,
            scorer=None,
            model_loaded_at=None,
            uptime_seconds=state.uptime_seconds,
            n_users=None,
            n_items=None,
            log=counters,
        )
    model = recommender.model
    return HealthResponse(
        status="ok",
        reason=None,
        model_version=recommender.version,
        model_name=model.metadata.model_name,
        scorer=model.metadata.scorer,
        model_loaded_at=model.loaded_at,
        uptime_seconds=state.uptime_seconds,
        n_users=model.n_users,
        n_items=model.n_items,
        log=counters,
    )


@router.post(
    "/recommend",
    response_model=RecommendResponse,
    responses=ERRORS,
    openapi_extra=openapi_body(RecommendRequest),
)
async def recommend(request: Request, recommender: RecommenderDep) -> Response:
    """Top-k movies for a user; unknown users get popular movies (`is_fallback`)."""
    body = parse_body(RecommendRequest, await request.body())
    filters = body.filters or NO_FILTERS
    ranking = recommender.recommend(
        body.user_id, body.k, body.exclude_seen, filters.genres, filters.year_min, filters.year_max
    )
    return json_object(
        user_id=encode(body.user_id),
        recommendations=serve(request, "/recommend", body.user_id, recommender, ranking),
        model_version=encode(recommender.version),
        is_fallback=encode(ranking.is_fallback),
        fallback_reason=encode(ranking.fallback_reason),
    )


@router.post(
    "/similar",
    response_model=SimilarResponse,
    responses={404: {"model": ErrorResponse, "description": "Unknown movie"}, **ERRORS},
    openapi_extra=openapi_body(SimilarRequest),
)
async def similar(request: Request, recommender: RecommenderDep) -> Response:
    """Movies most similar to a seed movie, each with why: shared audience and genres."""
    body = parse_body(SimilarRequest, await request.body())
    ranking = recommender.similar(body.movie_id, body.k)
    seed = recommender.model.items[recommender.model.item_columns[body.movie_id]]
    return json_object(
        movie_id=encode(body.movie_id),
        title=encode(seed.title),
        similar_items=serve(request, "/similar", None, recommender, ranking),
        model_version=encode(recommender.version),
    )


@router.get("/popular", response_model=PopularResponse, responses=ERRORS)
async def popular(
    request: Request,
    recommender: RecommenderDep,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    genre: Annotated[str | None, Query(max_length=64, description="empty means all")] = None,
) -> Response:
    """Most popular movies, optionally of one genre (422 lists the valid genres)."""
    ranking = recommender.popular(k, genre or None)
    return json_object(
        recommendations=serve(request, "/popular", None, recommender, ranking),
        source=encode("popularity"),
        model_version=encode(recommender.version),
    )


@router.get("/movies", response_model=MoviesResponse, responses=ERRORS)
async def movies(recommender: RecommenderDep) -> MoviesResponse:
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
            for item in recommender.model.items
        ]
    )


@router.get("/model", response_model=ModelMetadata, responses=ERRORS)
async def model_description(recommender: RecommenderDep) -> ModelMetadata:
    """The served model's metadata: version, kind, training date, hyper-parameters, metrics."""
    return recommender.model.metadata


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    dependencies=[Depends(require_admin)],
    responses={
        401: {"model": ErrorResponse, "description": "Missing or wrong bearer token"},
        404: {"model": ErrorResponse, "description": "Disabled: no MOVIEREC_ADMIN_TOKEN"},
        409: {"model": ErrorResponse, "description": "Bad bundle; the old model keeps serving"},
    },
)
def reload_model(state: StateDep) -> ReloadResponse:
    """Validate and swap in the bundle in `serving.model_dir`."""
    previous = state.recommender
    previous_version = previous.version if previous is not None else None
    try:
        recommender = state.reload()
    except BundleError as exc:
        raise ReloadRejectedError(
            f"bundle refused: {exc}. Still serving {previous_version or 'no model'}"
        ) from exc
    return ReloadResponse(
        status="reloaded",
        model_version=recommender.version,
        model_loaded_at=recommender.model.loaded_at,
        previous_version=previous_version,
    )


def _listen_for_sighup(state: ServingState) -> bool:
    """Reload on SIGHUP (in a worker thread); False where signals cannot be caught here."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(
            signal.SIGHUP, lambda: loop.run_in_executor(None, state.load_or_explain)
        )
    except (ValueError, RuntimeError, NotImplementedError):
        return False  # not the main thread (e.g. TestClient) or no SIGHUP on this platform
    return True


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the logger, load the model, listen for SIGHUP; on exit flush the log."""
    state: ServingState = app.state.serving
    # One request's numpy/FAISS work is far too small to split; extra BLAS and OpenMP threads
    # only contend with the event loop (they cut /recommend throughput by two thirds).
    faiss.omp_set_num_threads(1)
    blas_limit = threadpool_limits(limits=1, user_api="blas")
    state.logger.start()
    await asyncio.to_thread(state.load_or_explain)
    listening = _listen_for_sighup(state)
    try:
        yield
    finally:
        blas_limit.restore_original_limits()
        if listening:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        await asyncio.to_thread(state.logger.stop)


def create_app(settings: ServingSettings | None = None, store_url: str = "") -> FastAPI:
    """Build the app; `settings` and `store_url` default to `get_settings()`'s `serving` and
    `store.url` (configs + env vars). The request log goes to `store_url`, or when it is empty
    to the SQLite file `settings.log_db`."""
    if settings is None:
        configured = get_settings()
        settings, store_url = configured.serving, configured.store.url
    app = FastAPIOffline(
        title="movierec",
        summary="Movie recommendations from the production model",
        lifespan=lifespan,
    )
    app.state.serving = ServingState(settings, store_url or settings.log_db)
    app.include_router(router)
    app.add_middleware(RequestLogMiddleware, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    return app
