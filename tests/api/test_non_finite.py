"""Non-finite numbers (NaN, Infinity, 1e400) in any JSON field: a 422 naming the field, never
a 500 (the error answer once echoed the raw number, which JSON cannot encode)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(make_module_client: Callable[..., TestClient]) -> TestClient:
    return make_module_client()


@pytest.mark.parametrize(
    ("path", "body", "loc", "echoed"),
    [
        ("/recommend", '{"user_id": NaN}', ["body", "user_id"], "NaN"),
        ("/recommend", '{"user_id": Infinity}', ["body", "user_id"], "Infinity"),
        ("/recommend", '{"user_id": -Infinity}', ["body", "user_id"], "-Infinity"),
        ("/recommend", '{"user_id": 1e400}', ["body", "user_id"], "Infinity"),
        ("/recommend", '{"user_id": 1, "k": NaN}', ["body", "k"], "NaN"),
        (
            "/recommend",
            '{"user_id": 1, "filters": {"year_min": -1e999}}',
            ["body", "filters", "year_min"],
            "-Infinity",
        ),
        ("/similar", '{"movie_id": NaN}', ["body", "movie_id"], "NaN"),
        ("/similar", '{"movie_id": 1, "k": Infinity}', ["body", "k"], "Infinity"),
    ],
)
def test_a_non_finite_number_is_a_422_naming_its_field(
    client: TestClient, path: str, body: str, loc: list[str], echoed: str
) -> None:
    response = client.post(path, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [loc]
    assert errors[0]["input"] == echoed and errors[0]["msg"]


def test_non_finite_query_values_are_a_422(client: TestClient) -> None:
    for value in ("NaN", "Infinity", "1e400"):
        response = client.get("/popular", params={"k": value})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["query", "k"]
