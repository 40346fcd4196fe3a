"""GET /health: the service's status, 503 while no model is loaded."""

from __future__ import annotations

from fastapi import APIRouter, Response

from movierec.api.deps import StateDep
from movierec.api.schemas import HealthResponse, LastReload, LogCounters
from movierec.endpoints import HEALTH

router = APIRouter()


@router.get(HEALTH, response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def health(state: StateDep, response: Response) -> HealthResponse:
    """Service status; 503 with `status: "not_ready"` and a reason while no model is loaded;
    `last_reload` says whether the last (re)load was refused, and why."""
    served = state.served
    counters = LogCounters(**vars(state.logger.stats()))
    outcome = state.last_reload
    last_reload = LastReload(**outcome._asdict()) if outcome is not None else None
    if served is None:
        response.status_code = 503
        return HealthResponse(
            status="not_ready",
            reason=state.not_ready_reason,
            model_version=None,
            model_name=None,
            scorer=None,
            dataset=None,
            model_loaded_at=None,
            uptime_seconds=state.uptime_seconds,
            n_users=None,
            n_items=None,
            log=counters,
            last_reload=last_reload,
        )
    model = served.engine.model
    return HealthResponse(
        status="ok",
        reason=None,
        model_version=served.engine.version,
        model_name=model.metadata.model_name,
        scorer=model.metadata.scorer,
        dataset=model.metadata.dataset,
        model_loaded_at=model.loaded_at,
        uptime_seconds=state.uptime_seconds,
        n_users=model.n_users,
        n_items=model.n_items,
        log=counters,
        last_reload=last_reload,
    )
