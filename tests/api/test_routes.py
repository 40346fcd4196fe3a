"""Route tests over real bundles of both scorers, through the full app and its lifespan."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from movierec.api.schemas import PopularResponse, RecommendResponse, SimilarResponse
from tests.api.conftest import ClientFactory, popularity_ranking, seen_movies
from tests.synthetic import GROUP_GENRES, SyntheticMovieLens

KNOWN_USER = 5
UNKNOWN_USER = 999_999
ALL_GENRES = sorted({genre for genres in GROUP_GENRES for genre in genres})


def items_by_id(data: SyntheticMovieLens) -> dict[int, dict]:
    return {int(row.movie_id): row._asdict() for row in data.items.itertuples(index=False)}


def test_health_reports_the_loaded_model(client: TestClient, scorer: str) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["model_version"] == f"synthetic-{scorer}-0"
    assert body["scorer"] == scorer
    assert (body["n_users"], body["n_items"]) == (120, 90)
    assert body["model_loaded_at"].endswith(("Z", "+00:00"))
    assert body["uptime_seconds"] >= 0


def test_recommend_ranks_unseen_movies_for_a_known_user(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    response = client.post("/recommend", json={"user_id": KNOWN_USER, "k": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == KNOWN_USER
    assert body["is_fallback"] is False and body["fallback_reason"] is None
    recs = body["recommendations"]
    assert len(recs) == 7
    assert not {r["movie_id"] for r in recs} & seen_movies(synthetic_data, KNOWN_USER)
    scores = [r["score"] for r in recs]
    assert scores == sorted(scores, reverse=True)
    catalogue = items_by_id(synthetic_data)
    for rec in recs:
        item = catalogue[rec["movie_id"]]
        assert (rec["title"], rec["year"], rec["genres"]) == (
            item["title"],
            item["year"],
            item["genres"],
        )


def test_exclude_seen_false_may_return_seen_movies(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    body = client.post(
        "/recommend", json={"user_id": KNOWN_USER, "k": 10, "exclude_seen": False}
    ).json()
    assert {r["movie_id"] for r in body["recommendations"]} & seen_movies(
        synthetic_data, KNOWN_USER
    )


def test_recommendations_follow_the_users_taste(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    """Users watch mostly one genre group (nearly all of it, hence exclude_seen=False)."""
    ratings = synthetic_data.ratings
    liked = ratings[(ratings["user_id"] == KNOWN_USER) & (ratings["rating"] >= 4)]
    group = ((liked["movie_id"] - 1) % len(GROUP_GENRES)).mode()[0]
    watchers = ratings.groupby("movie_id")["user_id"].nunique()
    everyones = set(watchers[watchers >= 0.9 * ratings["user_id"].nunique()].index)
    body = client.post(
        "/recommend", json={"user_id": KNOWN_USER, "k": 12, "exclude_seen": False}
    ).json()
    niche = [r["movie_id"] for r in body["recommendations"] if r["movie_id"] not in everyones]
    assert len(niche) >= 5
    assert sum((movie - 1) % len(GROUP_GENRES) == group for movie in niche) >= 4


@pytest.mark.parametrize(
    "filters",
    [
        {"genres": ["Comedy"]},
        {"genres": ["drama", "Horror"]},
        {"year_min": 1990},
        {"year_max": 1985},
        {"year_min": 1984, "year_max": 1986, "genres": ["Sci-Fi"]},
    ],
)
def test_every_recommendation_matches_the_filters(
    client: TestClient, synthetic_data: SyntheticMovieLens, filters: dict
) -> None:
    for user_id in (KNOWN_USER, UNKNOWN_USER):
        body = client.post(
            "/recommend", json={"user_id": user_id, "k": 5, "filters": filters}
        ).json()
        recs = body["recommendations"]
        assert recs, body
        wanted = {genre.lower() for genre in filters.get("genres", [])}
        for rec in recs:
            if wanted:
                assert wanted & {genre.lower() for genre in rec["genres"]}
            assert rec["year"] >= filters.get("year_min", 0)
            assert rec["year"] <= filters.get("year_max", 9999)
        if user_id == KNOWN_USER:
            assert not {r["movie_id"] for r in recs} & seen_movies(synthetic_data, user_id)


def test_unknown_user_gets_popular_movies_matching_the_filters(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    body = client.post(
        "/recommend",
        json={"user_id": UNKNOWN_USER, "k": 4, "filters": {"genres": ["Comedy"]}},
    ).json()
    assert body["is_fallback"] is True
    assert body["fallback_reason"] == "unknown_user"
    comedies = set(
        synthetic_data.items.loc[
            synthetic_data.items["genres"].map(lambda g: "Comedy" in g), "movie_id"
        ]
    )
    expected = [m for m in popularity_ranking(synthetic_data) if m in comedies][:4]
    assert [r["movie_id"] for r in body["recommendations"]] == expected


def test_fewer_eligible_movies_than_k_is_a_documented_fallback(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    seen = seen_movies(synthetic_data, KNOWN_USER)
    body = client.post("/recommend", json={"user_id": KNOWN_USER, "k": 100}).json()
    returned = [r["movie_id"] for r in body["recommendations"]]
    assert body["is_fallback"] is True
    assert body["fallback_reason"] == "insufficient_candidates"
    assert set(returned) == set(synthetic_data.items["movie_id"]) - seen
    assert len(returned) == len(set(returned))


def test_user_with_nothing_eligible_gets_an_empty_fallback(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    """A year range with no movie in it leaves nothing: an empty list, said so."""
    body = client.post(
        "/recommend",
        json={"user_id": KNOWN_USER, "filters": {"year_min": 2100, "year_max": 2100}},
    ).json()
    assert body["recommendations"] == []
    assert body["is_fallback"] is True
    assert body["fallback_reason"] == "insufficient_candidates"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"user_id": 1, "k": 0}, "k"),
        ({"user_id": 1, "k": 101}, "k"),
        ({"user_id": "abc"}, "user_id"),
        ({"user_id": 1.5}, "user_id"),
        ({"user_id": True}, "user_id"),
        ({"user_id": "1"}, "user_id"),
        ({}, "user_id"),
        ({"user_id": 0}, "user_id"),
        ({"user_id": 1, "exlude_seen": True}, "exlude_seen"),
        ({"user_id": 1, "exclude_seen": "yes"}, "exclude_seen"),
        ({"user_id": 1, "filters": {"year_min": "1990"}}, "year_min"),
    ],
)
def test_recommend_rejects_bad_fields_naming_them(
    client: TestClient, payload: dict, field: str
) -> None:
    response = client.post("/recommend", json=payload)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(field in error["loc"] for error in errors), errors
    assert all(error["msg"] for error in errors)


def test_year_min_above_year_max_is_a_clear_422(client: TestClient) -> None:
    response = client.post(
        "/recommend", json={"user_id": 1, "filters": {"year_min": 1995, "year_max": 1990}}
    )
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert "year_min (1995) must not be greater than year_max (1990)" in message


def test_unknown_genre_lists_the_valid_ones(client: TestClient) -> None:
    response = client.post("/recommend", json={"user_id": 1, "filters": {"genres": ["Noir"]}})
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "filters", "genres", 0]
    assert "'Noir'" in error["msg"]
    assert all(genre in error["msg"] for genre in ALL_GENRES)


def test_wrong_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/recommend", content=b"user_id=1", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/recommend", content=b'{"user_id": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "JSON decode error"


def test_oversized_body_is_413(client: TestClient) -> None:
    padding = "x" * 20_000
    response = client.post("/recommend", json={"user_id": 1, "pad": padding})
    assert response.status_code == 413
    assert "16384 bytes" in response.json()["detail"]


def test_similar_returns_neighbours_without_the_seed(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    seed = 10
    response = client.post("/similar", json={"movie_id": seed, "k": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["movie_id"] == seed
    assert body["title"] == items_by_id(synthetic_data)[seed]["title"]
    similar = body["similar_items"]
    assert len(similar) == 5 and seed not in {s["movie_id"] for s in similar}
    scores = [s["score"] for s in similar]
    assert scores == sorted(scores, reverse=True) and all(-1.0001 <= s <= 1.0001 for s in scores)
    same_group = sum((s["movie_id"] - seed) % len(GROUP_GENRES) == 0 for s in similar)
    assert same_group >= 3


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"movie_id": 5000}, 404),
        ({"movie_id": "ten"}, 422),
        ({"movie_id": 1, "k": 0}, 422),
        ({"movie_id": 1, "k": 101}, 422),
        ({}, 422),
    ],
)
def test_similar_rejects_bad_input(client: TestClient, payload: dict, status: int) -> None:
    response = client.post("/similar", json=payload)
    assert response.status_code == status
    if status == 404:
        detail = response.json()["detail"]
        assert "movie_id 5000" in detail and "GET /movies lists the valid movie ids" in detail


def test_popular_is_ordered_by_interaction_count(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    body = client.get("/popular", params={"k": 6}).json()
    assert body["source"] == "popularity"
    assert [r["movie_id"] for r in body["recommendations"]] == popularity_ranking(synthetic_data)[
        :6
    ]


def test_popular_by_genre_and_empty_genre(client: TestClient) -> None:
    horror = client.get("/popular", params={"k": 5, "genre": "Horror"}).json()
    assert all("Horror" in r["genres"] for r in horror["recommendations"])
    assert len(horror["recommendations"]) == 5
    unfiltered = client.get("/popular", params={"k": 5, "genre": ""})
    assert unfiltered.status_code == 200
    plain = client.get("/popular", params={"k": 5}).json()
    assert unfiltered.json()["recommendations"] == plain["recommendations"]


@pytest.mark.parametrize(
    ("params", "field"), [({"k": 0}, "k"), ({"k": 101}, "k"), ({"k": "ten"}, "k")]
)
def test_popular_rejects_bad_k(client: TestClient, params: dict, field: str) -> None:
    response = client.get("/popular", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_popular_unknown_genre_lists_valid_ones(client: TestClient) -> None:
    response = client.get("/popular", params={"genre": "Noir"})
    assert response.status_code == 422
    assert all(genre in response.json()["detail"][0]["msg"] for genre in ALL_GENRES)


def test_without_a_bundle_the_service_starts_and_says_how_to_fix_it(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    with make_client(model_dir=tmp_path / "missing") as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "not_ready"
        assert "make train" in health.json()["reason"]
        for response in (
            client.post("/recommend", json={"user_id": 1}),
            client.post("/similar", json={"movie_id": 1}),
            client.get("/popular"),
            client.get("/movies"),
            client.get("/model"),
        ):
            assert response.status_code == 503
            assert "make train" in response.json()["detail"]


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/recommend", "/similar", "/popular", "/admin/reload"} <= set(paths)


def test_movies_lists_the_whole_catalogue(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    movies = client.get("/movies").json()["movies"]
    expected = items_by_id(synthetic_data)
    assert sorted(movie["movie_id"] for movie in movies) == sorted(expected)
    for movie in movies:
        item = expected[movie["movie_id"]]
        assert (movie["title"], movie["year"]) == (item["title"], item["year"])
        assert movie["genres"] == item["genres"]
        assert movie["url"] == (None if pd.isna(item["url"]) else item["url"])
    assert any(movie["url"] for movie in movies) and not all(movie["url"] for movie in movies)


def test_model_describes_the_served_bundle(client: TestClient, scorer: str) -> None:
    body = client.get("/model").json()
    assert body["version"] == client.get("/health").json()["model_version"]
    assert body["scorer"] == scorer
    assert body["n_items"] == 90
    assert isinstance(body["hyperparameters"], dict) and isinstance(body["metrics"], dict)


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    def chunks():  # no Content-Length: the server must count
        yield b'{"user_id": 1, "pad": "'
        for _ in range(40):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(
        "/recommend", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "bytes" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "model"),
    [
        ("POST", "/recommend", {"user_id": KNOWN_USER, "k": 5}, RecommendResponse),
        ("POST", "/recommend", {"user_id": KNOWN_USER, "exclude_seen": False}, RecommendResponse),
        ("POST", "/recommend", {"user_id": UNKNOWN_USER, "k": 3}, RecommendResponse),
        ("POST", "/recommend", {"user_id": KNOWN_USER, "explain": True}, RecommendResponse),
        ("POST", "/recommend", {"history": [{"movie_id": 1, "rating": 4.5}]}, RecommendResponse),
        (
            "POST",
            "/recommend",
            {"user_id": KNOWN_USER, "k": 50, "filters": {"genres": [ALL_GENRES[0]]}},
            RecommendResponse,
        ),
        ("POST", "/similar", {"movie_id": 1, "k": 4}, SimilarResponse),
        ("GET", "/popular?k=6", None, PopularResponse),
    ],
)
def test_pre_encoded_answers_match_their_documented_models(
    client: TestClient,
    synthetic_data: SyntheticMovieLens,
    method: str,
    path: str,
    payload: dict | None,
    model: type[BaseModel],
) -> None:
    """The routes encode JSON themselves; it must be exactly what the response model says
    (optional members, such as `because` without `explain`, may be left out)."""
    response = client.request(method, path, json=payload)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    parsed = model.model_validate_json(response.content, strict=True)
    assert json.loads(parsed.model_dump_json(exclude_unset=True)) == response.json()
    movies = items_by_id(synthetic_data)
    listed = response.json().get("recommendations") or response.json()["similar_items"]
    for movie in listed:
        item = movies[movie["movie_id"]]
        assert movie["title"] == item["title"]
        assert movie["genres"] == list(item["genres"])


JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("GET", "/health", None, 200),
        ("POST", "/recommend", {"user_id": KNOWN_USER, "k": 3}, 200),
        ("POST", "/recommend", {"user_id": UNKNOWN_USER, "k": 3}, 200),
        ("POST", "/similar", {"movie_id": 1, "k": 3}, 200),
        ("GET", "/popular?k=3", None, 200),
        ("GET", "/movies", None, 200),
        ("GET", "/model", None, 200),
        ("POST", "/similar", {"movie_id": 5000}, 404),
        ("POST", "/recommend", {"user_id": "ten"}, 422),
        ("GET", "/popular?genre=Noir", None, 422),
        ("GET", "/nowhere", None, 404),
        ("POST", "/admin/reload", None, 404),
    ],
)
def test_every_answer_is_compact_json(
    client: TestClient, method: str, path: str, payload: dict | None, status: int
) -> None:
    """Pre-encoded, pydantic and error answers alike: no whitespace between JSON tokens."""
    response = client.request(method, path, json=payload)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.content.decode()
    json.loads(body)
    assert not re.search(r"\s", JSON_STRING.sub("", body)), body
