"""POST /feedback(/batch), POST /users, DELETE /users/{id}/feedback and the feedback-aware
/recommend, through the full app and its lifespan, on both scorers; the stored rows checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from movierec.api.main import create_app
from movierec.api.request_ids import issued
from movierec.config import ServingSettings
from movierec.store.tables import app_users, feedback_events
from tests.databases import table_rows
from tests.synthetic import GROUP_GENRES, SyntheticMovieLens

KNOWN_USER = 5


@pytest.fixture(scope="module", params=["embeddings", "item_weights"])
def served(
    request: pytest.FixtureRequest,
    bundles: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, Path]]:
    """One app per scorer for the module (tests use users of their own), and its store."""
    store = tmp_path_factory.mktemp("store") / "store.db"
    settings = ServingSettings(model_dir=bundles[request.param], log_db=store)
    with TestClient(create_app(settings)) as client:
        yield client, store


@pytest.fixture
def client(served: tuple[TestClient, Path]) -> TestClient:
    return served[0]


def stored(served: tuple[TestClient, Path]) -> list[dict]:
    """The feedback rows, after this process's queue is written."""
    client, store = served
    client.app.state.serving.feedback.writer.flush()  # type: ignore[attr-defined]
    return table_rows(store, feedback_events)


def recommended(client: TestClient, body: dict) -> list[int]:
    response = client.post("/recommend", json=body)
    assert response.status_code == 200, response.text
    return [movie["movie_id"] for movie in response.json()["recommendations"]]


def test_an_event_is_accepted_with_its_id_and_stored(served: tuple[TestClient, Path]) -> None:
    client = served[0]
    answer = client.post("/recommend", json={"user_id": 11, "k": 3}).json()
    assert issued(answer["request_id"])
    movie = answer["recommendations"][0]["movie_id"]
    body = {"user_id": 11, "movie_id": movie, "event": "click", "request_id": answer["request_id"]}
    response = client.post("/feedback", json=body)
    assert response.status_code == 202
    event_id = response.json()["event_id"]
    assert response.json()["request_known"] is True
    rating = {"user_id": 11, "movie_id": movie, "event": "rating", "value": 4.5}
    assert client.post("/feedback", json=rating).json()["request_known"] is None
    rows = {row["event_id"]: row for row in stored(served) if row["user_id"] == 11}
    row = rows[event_id]
    assert (row["movie_id"], row["event"], row["value"], row["request_known"]) == (
        movie,
        "click",
        None,
        True,
    )
    assert row["request_id"] == answer["request_id"]
    assert row["model_version"] == answer["model_version"]
    assert len(rows) == 2


def test_a_request_id_never_issued_is_stored_but_flagged(served: tuple[TestClient, Path]) -> None:
    client = served[0]
    for made_up in ["7f3c1e0a-2b4d-4c6e-8f10-123456789abc", "not-a-uuid"]:
        body = {"user_id": 12, "movie_id": 1, "event": "watch", "request_id": made_up}
        response = client.post("/feedback", json=body)
        assert response.status_code == 202
        assert response.json()["request_known"] is False
    rows = [row for row in stored(served) if row["user_id"] == 12]
    assert [row["request_known"] for row in rows] == [False, False]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": 1, "movie_id": 1, "event": "rating", "value": 5.5}, "value"),
        ({"user_id": 1, "movie_id": 1, "event": "rating", "value": 0}, "value"),
        ({"user_id": 1, "movie_id": 1, "event": "rating", "value": 3.3}, "value"),
        ({"user_id": 1, "movie_id": 1, "event": "rating", "value": "4"}, "value"),
        ({"user_id": 1, "movie_id": 1, "event": "rating"}, "value"),
        ({"user_id": 1, "movie_id": 1, "event": "click", "value": 4.0}, "value"),
        ({"user_id": 1, "movie_id": 1, "event": "like"}, "event"),
        ({"user_id": "1", "movie_id": 1, "event": "click"}, "user_id"),
        ({"user_id": 1, "movie_id": 0, "event": "click"}, "movie_id"),
        ({"user_id": 1, "movie_id": 1}, "event"),
        ({"user_id": 1, "movie_id": 1, "event": "click", "extra": 1}, "extra"),
        ({"user_id": 1, "movie_id": 1, "event": "click", "request_id": "x" * 65}, "request_id"),
    ],
)
def test_bad_events_are_422_naming_the_field(client: TestClient, body: dict, field: str) -> None:
    response = client.post("/feedback", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(field in error["loc"] for error in errors), errors


def test_an_unknown_movie_is_404_and_a_batch_is_all_or_nothing(
    served: tuple[TestClient, Path],
) -> None:
    client = served[0]
    response = client.post("/feedback", json={"user_id": 13, "movie_id": 5000, "event": "click"})
    assert response.status_code == 404
    assert "5000" in response.json()["detail"]
    good = {"user_id": 13, "movie_id": 1, "event": "click"}
    bad = {"user_id": 13, "movie_id": 5000, "event": "click"}
    assert client.post("/feedback/batch", json={"events": [good, bad]}).status_code == 404
    assert not [row for row in stored(served) if row["user_id"] == 13]
    assert client.post("/feedback/batch", json={"events": []}).status_code == 422
    second = {"user_id": 13, "movie_id": 2, "event": "rating", "value": 3.5}
    response = client.post("/feedback/batch", json={"events": [good, second]})
    assert response.status_code == 202
    ids = response.json()["event_ids"]
    rows = {row["event_id"]: row["movie_id"] for row in stored(served) if row["user_id"] == 13}
    assert [rows[event_id] for event_id in ids] == [1, 2] and ids[0] < ids[1]


def test_the_next_recommendation_leaves_out_what_was_rated_watched_and_disliked(
    client: TestClient,
) -> None:
    first, second, third, *_ = recommended(client, {"user_id": KNOWN_USER, "k": 5})
    for movie, event in [(first, "watch"), (second, "dislike")]:
        body = {"user_id": KNOWN_USER, "movie_id": movie, "event": event}
        assert client.post("/feedback", json=body).status_code == 202
    rating = {"user_id": KNOWN_USER, "movie_id": third, "event": "rating", "value": 5.0}
    assert client.post("/feedback", json=rating).status_code == 202
    after = recommended(client, {"user_id": KNOWN_USER, "k": 50})
    assert {first, second, third}.isdisjoint(after)
    unfiltered = recommended(client, {"user_id": KNOWN_USER, "k": 90, "exclude_seen": False})
    assert second not in unfiltered and first in unfiltered


def test_a_new_user_starts_on_popular_movies_and_turns_personal(
    served: tuple[TestClient, Path], synthetic_data: SyntheticMovieLens
) -> None:
    client, store = served
    response = client.post("/users")
    assert response.status_code == 201
    user_id = response.json()["user_id"]
    assert user_id > synthetic_data.ratings["user_id"].max() and user_id >= 1000
    assert any(row["user_id"] == user_id for row in table_rows(store, app_users))
    answer = client.post("/recommend", json={"user_id": user_id}).json()
    assert (answer["is_fallback"], answer["fallback_reason"]) == (True, "new_user")
    horror = synthetic_data.items[synthetic_data.items["genres"].map(lambda g: "Horror" in g)]
    liked = horror["movie_id"].tolist()[:5]
    for movie in liked:
        body = {"user_id": user_id, "movie_id": movie, "event": "rating", "value": 5.0}
        assert client.post("/feedback", json=body).status_code == 202
    answer = client.post("/recommend", json={"user_id": user_id, "k": 5, "explain": True}).json()
    assert (answer["is_fallback"], answer["fallback_reason"]) == (False, None)
    movies = answer["recommendations"]
    assert all("Horror" in movie["genres"] for movie in movies), movies
    assert not {movie["movie_id"] for movie in movies} & set(liked)
    titles = dict(zip(synthetic_data.items["movie_id"], synthetic_data.items["title"], strict=True))
    for movie in movies:
        assert 1 <= len(movie["because"]) <= 3
        assert all(reason["movie_id"] in liked for reason in movie["because"])
        assert all(reason["title"] == titles[reason["movie_id"]] for reason in movie["because"])
    second = client.post("/users").json()["user_id"]
    assert second > user_id


def test_seed_ratings_make_a_new_user_personal_at_once(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    comedy = synthetic_data.items[synthetic_data.items["genres"].map(lambda g: "Comedy" in g)]
    seeds = [{"movie_id": movie, "value": 4.5} for movie in comedy["movie_id"].tolist()[:5]]
    response = client.post("/users", json={"ratings": seeds})
    assert response.status_code == 201
    created = response.json()
    assert len(created["event_ids"]) == 5
    answer = client.post("/recommend", json={"user_id": created["user_id"], "k": 5}).json()
    assert answer["is_fallback"] is False
    assert all(set(m["genres"]) & set(GROUP_GENRES[1]) for m in answer["recommendations"])
    unknown = client.post("/users", json={"ratings": [{"movie_id": 5000, "value": 4.0}]})
    assert unknown.status_code == 404
    twice = client.post("/users", json={"ratings": [seeds[0], seeds[0]]})
    assert twice.status_code == 422


def test_only_dislikes_give_popular_movies_without_them(client: TestClient) -> None:
    popular = [m["movie_id"] for m in client.get("/popular?k=4").json()["recommendations"]]
    body = {"user_id": 777_777, "movie_id": popular[0], "event": "dislike"}
    assert client.post("/feedback", json=body).status_code == 202
    answer = client.post("/recommend", json={"user_id": 777_777, "k": 3}).json()
    assert answer["fallback_reason"] == "no_positive_feedback"
    assert [m["movie_id"] for m in answer["recommendations"]] == popular[1:4]


def test_an_anonymous_session_is_scored_from_its_inline_history(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    drama = synthetic_data.items[synthetic_data.items["genres"].map(lambda g: "War" in g)]
    history = [{"movie_id": movie} for movie in drama["movie_id"].tolist()[:4]]
    answer = client.post("/recommend", json={"history": history, "k": 5}).json()
    assert answer["user_id"] is None and answer["is_fallback"] is False
    assert all(set(m["genres"]) & set(GROUP_GENRES[2]) for m in answer["recommendations"])
    unknown = client.post("/recommend", json={"history": [{"movie_id": 5000}]})
    assert unknown.status_code == 404
    missing = client.post("/recommend", json={"k": 5})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "user_id"]


def test_deleting_a_users_feedback_counts_it_and_stops_using_it(
    served: tuple[TestClient, Path],
) -> None:
    client = served[0]
    user_id = client.post("/users").json()["user_id"]
    events = [{"user_id": user_id, "movie_id": m, "event": "watch"} for m in (1, 2, 3)]
    assert client.post("/feedback/batch", json={"events": events}).status_code == 202
    assert client.post("/recommend", json={"user_id": user_id}).json()["is_fallback"] is False
    response = client.delete(f"/users/{user_id}/feedback")
    assert response.status_code == 200
    assert response.json() == {"user_id": user_id, "deleted": 3}
    answer = client.post("/recommend", json={"user_id": user_id}).json()
    assert answer["fallback_reason"] == "new_user"
    assert not [row for row in stored(served) if row["user_id"] == user_id]
    assert client.delete(f"/users/{user_id}/feedback").json()["deleted"] == 0
    assert client.delete("/users/0/feedback").status_code == 422


def test_a_users_feedback_reads_back_newest_first_at_once(client: TestClient) -> None:
    created = client.post("/users", json={"ratings": [{"movie_id": 4, "value": 2.5}]}).json()
    user_id, (seed_id,) = created["user_id"], created["event_ids"]
    click = {"user_id": user_id, "movie_id": 7, "event": "click"}
    event_id = client.post("/feedback", json=click).json()["event_id"]
    history = client.get(f"/users/{user_id}/feedback")  # no wait: the queue is written first
    assert history.status_code == 200
    events = history.json()["events"]
    assert [(e["event_id"], e["movie_id"], e["event"], e["value"]) for e in events] == [
        (event_id, 7, "click", None),
        (seed_id, 4, "rating", 2.5),
    ]
    assert all(e["model_version"] for e in events)
    newest = client.get(f"/users/{user_id}/feedback", params={"limit": 1}).json()["events"]
    assert [e["event_id"] for e in newest] == [event_id]
    assert client.get(f"/users/{user_id}/feedback", params={"limit": 0}).status_code == 422
    client.delete(f"/users/{user_id}/feedback")
    assert client.get(f"/users/{user_id}/feedback").json() == {"user_id": user_id, "events": []}
