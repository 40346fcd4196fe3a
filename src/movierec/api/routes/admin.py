"""POST /admin/reload: validate and swap in the bundle, behind the admin token or an API key
with the `admin` scope."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from movierec.api.deps import StateDep, require_admin
from movierec.api.errors import ReloadRejectedError
from movierec.api.schemas import ErrorResponse, ReloadResponse
from movierec.api.watcher import request_reload
from movierec.artifacts import BundleError
from movierec.endpoints import ADMIN_RELOAD

router = APIRouter()


@router.post(
    ADMIN_RELOAD,
    response_model=ReloadResponse,
    dependencies=[Depends(require_admin)],
    responses={
        401: {"model": ErrorResponse, "description": "Missing or wrong bearer token or API key"},
        403: {"model": ErrorResponse, "description": "An API key without the admin scope"},
        404: {"model": ErrorResponse, "description": "Disabled: no MOVIEREC_ADMIN_TOKEN"},
        409: {"model": ErrorResponse, "description": "Bad bundle; the old model keeps serving"},
    },
)
def reload_model(state: StateDep) -> ReloadResponse:
    """Validate and swap in the bundle in `serving.model_dir`, and ask every other worker to
    do the same (a plain `def`: loading a bundle blocks for as long as reading it takes, so
    it runs in the thread pool)."""
    previous = state.served
    previous_version = previous.engine.version if previous is not None else None
    request_reload(state.settings.model_dir)  # the other workers follow (api.watcher)
    try:
        served = state.reload()
    except BundleError as exc:
        raise ReloadRejectedError(
            f"bundle refused: {exc}. Still serving {previous_version or 'no model'}"
        ) from exc
    return ReloadResponse(
        status="reloaded",
        model_version=served.engine.version,
        model_loaded_at=served.engine.model.loaded_at,
        previous_version=previous_version,
    )
