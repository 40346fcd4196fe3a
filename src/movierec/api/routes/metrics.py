"""GET /metrics: the service's metrics in the Prometheus text format (`movierec.api.metrics`)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from movierec.api import metrics
from movierec.api.deps import StateDep
from movierec.endpoints import METRICS

router = APIRouter()


@router.get(
    METRICS,
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def prometheus_metrics(state: StateDep) -> Response:
    """Requests and latency by endpoint and status, fallbacks by reason, the request log's
    queue and drops, the served model version and reloads by result; every worker's."""
    state.log_counters.update(state.logger.stats())
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
