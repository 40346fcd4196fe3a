"""`ApiClient` against a real API process: typed answers, and every failure as a clear message."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from movierec.frontend.api_client import (
    ApiClient,
    ApiNotFoundError,
    ApiRequestError,
    ApiServerError,
    ApiTimeoutError,
    ApiUnreachableError,
    ModelNotReadyError,
    describe_detail,
)

pytestmark = pytest.mark.timeout(120)


@contextmanager
def canned_server(status: int, body: bytes) -> Iterator[str]:
    """A real HTTP server answering every request with `status` and `body`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url, timeout_s=10) as api:
        yield api


def test_health_reports_the_served_model(client: ApiClient, model_dir) -> None:
    health = client.health()
    assert health.ready
    assert health.model_version
    assert health.n_users == 120 and health.n_items == 90
    assert health.uptime_seconds is not None and health.uptime_seconds >= 0


def test_recommend_returns_typed_movies_of_the_catalogue(
    client: ApiClient, catalogue_records: list[dict]
) -> None:
    titles = {r["title"] for r in catalogue_records}
    answer = client.recommend(1, k=7)
    assert answer.user_id == 1 and not answer.is_fallback and answer.fallback_reason is None
    assert len(answer.recommendations) == 7
    assert {m.title for m in answer.recommendations} <= titles
    scores = [m.score for m in answer.recommendations]
    assert scores == sorted(scores, reverse=True)


def test_recommend_sends_the_filters(client: ApiClient) -> None:
    answer = client.recommend(2, k=20, genres=["Horror"], year_min=1985, year_max=1990)
    assert answer.recommendations
    for movie in answer.recommendations:
        assert "Horror" in movie.genres
        assert movie.year is not None and 1985 <= movie.year <= 1990


def test_unknown_user_gets_the_fallback(client: ApiClient) -> None:
    answer = client.recommend(999_999, k=5)
    assert answer.is_fallback and answer.fallback_reason == "unknown_user"
    assert len(answer.recommendations) == 5


def test_similar_and_popular(client: ApiClient, catalogue_records: list[dict]) -> None:
    seed = catalogue_records[4]
    similar = client.similar(seed["movie_id"], k=4)
    assert similar.movie_id == seed["movie_id"] and similar.title == seed["title"]
    assert len(similar.similar_items) == 4
    assert seed["movie_id"] not in {m.movie_id for m in similar.similar_items}
    comedy = client.popular(k=3, genre="Comedy")
    assert len(comedy.recommendations) == 3
    assert all("Comedy" in m.genres for m in comedy.recommendations)


def test_unknown_movie_is_a_not_found_with_the_apis_explanation(client: ApiClient) -> None:
    with pytest.raises(ApiNotFoundError) as caught:
        client.similar(987_654)
    assert caught.value.status_code == 404
    assert "987654" in str(caught.value)


def test_invalid_input_is_rejected_with_the_field_named(client: ApiClient) -> None:
    with pytest.raises(ApiRequestError) as caught:
        client.recommend(1, k=0)
    assert caught.value.status_code == 422
    assert str(caught.value).startswith("k: ")
    with pytest.raises(ApiRequestError) as caught:
        client.popular(genre="Space Opera")
    assert "Space Opera" in str(caught.value) and "Comedy" in str(caught.value)


def test_server_without_a_model(not_ready_url: str) -> None:
    with ApiClient(not_ready_url, timeout_s=10) as client:
        health = client.health()
        assert health.status == "not_ready" and not health.ready and health.reason
        with pytest.raises(ModelNotReadyError, match="No model is loaded yet: run `make train`"):
            client.recommend(1)
        with pytest.raises(ModelNotReadyError):
            client.popular()


def test_connection_refused_says_how_to_start_the_api(closed_url: str) -> None:
    with ApiClient(closed_url, timeout_s=2) as client, pytest.raises(ApiUnreachableError) as caught:
        client.health()
    message = str(caught.value)
    assert closed_url in message and "make serve" in message and "movierec serve" in message


def test_a_silent_server_times_out(silent_url: str) -> None:
    started = time.monotonic()
    with ApiClient(silent_url, timeout_s=0.3) as client, pytest.raises(ApiTimeoutError) as caught:
        client.recommend(1)
    assert time.monotonic() - started < 5
    assert "did not answer" in str(caught.value) and "0.3 s" in str(caught.value)


def test_server_errors_and_unreadable_answers() -> None:
    body = json.dumps({"detail": "internal error; the server log has the details"}).encode()
    with (
        canned_server(500, body) as url,
        ApiClient(url) as client,
        pytest.raises(ApiServerError, match="HTTP 500: internal error"),
    ):
        client.popular()
    with (
        canned_server(200, b'{"unexpected": true}') as url,
        ApiClient(url) as client,
        pytest.raises(ApiServerError, match="cannot read"),
    ):
        client.popular()


def test_describe_detail_reads_fastapi_validation_errors() -> None:
    detail = [
        {"loc": ["body", "k"], "msg": "Input should be less than or equal to 100"},
        {"loc": ["query", "genre"], "msg": "unknown genre"},
    ]
    assert describe_detail(detail) == (
        "k: Input should be less than or equal to 100; genre: unknown genre"
    )
    assert describe_detail("plain words") == "plain words"
