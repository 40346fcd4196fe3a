"""The movie list of a ranking route's answer, and what it leaves for the request log."""

from __future__ import annotations

import numpy as np
from fastapi import Request

from movierec.api.logger import ServedRequest
from movierec.api.middleware import TRACE_KEY, RequestTrace
from movierec.api.render import encode, format_scores
from movierec.api.request_ids import mint
from movierec.api.state import Served
from movierec.serving.fallback import FallbackReason


def ranked_movies(
    request: Request,
    endpoint: str,
    user_id: int | None,
    served: Served,
    columns: np.ndarray,
    scores: np.ndarray,
    is_fallback: bool = False,
    fallback_reason: FallbackReason | None = None,
    extras: list[str] | None = None,
) -> tuple[str, str]:
    """The movies in `columns` with their `scores` as a JSON array (`extras`: encoded members
    added to each movie), and the JSON of a new request id for the answer; what was served is
    left on the request's trace for the middleware to log (the scores exactly as answered)."""
    listed = columns.tolist()
    encoded_scores = format_scores(scores.tolist())
    trace: RequestTrace = request.scope[TRACE_KEY]
    engine = served.engine
    trace.served = ServedRequest(
        endpoint,
        user_id,
        engine.version,
        [engine.movie_ids[column] for column in listed],
        f"[{','.join(encoded_scores)}]",
        is_fallback,
        fallback_reason,
        mint(),
    )
    return served.movies.array(listed, encoded_scores, extras), encode(trace.served.request_id)
