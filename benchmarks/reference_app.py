"""The API plus one reference route, for `benchmarks/serving.py` to tell where time goes.

`POST /reference/recommend` does FastAPI's part of a /recommend request and nothing else: the
same body read and validated by the same code, the same `ServedDep` dependency, and a
fixed answer as long as a real one; no ranking, no rendering, no request log. Its throughput
against /health says what the framework costs a logged POST route; against /recommend, what
the recommendation work costs. The route is added after the API's own, so it changes nothing
about how they are matched.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request, Response

from movierec.api.deps import ServedDep
from movierec.api.main import create_app as create_api
from movierec.api.schemas import RecommendRequest, parse_body

REFERENCE_PATH = "/reference/recommend"
MOVIE = {
    "movie_id": 1,
    "title": "Toy Story (1995)",
    "score": 0.9386823773384094,
    "year": 1995,
    "genres": ["Animation", "Children's", "Comedy"],
}
ANSWER = json.dumps(
    {
        "user_id": 1,
        "recommendations": [MOVIE] * 10,
        "model_version": "1",
        "is_fallback": False,
        "fallback_reason": None,
    },
    separators=(",", ":"),
).encode()


async def reference_recommend(request: Request, served: ServedDep) -> Response:
    """Validate a /recommend body; answer a fixed /recommend-sized body."""
    parse_body(RecommendRequest, await request.body())
    return Response(ANSWER, media_type="application/json")


def create_app() -> FastAPI:
    app = create_api()
    app.router.add_api_route(REFERENCE_PATH, reference_recommend, methods=["POST"])
    return app
