"""The feedback loop over real uvicorn processes: a new user end to end on two workers (every
worker personalises them, nothing accepted is lost on shutdown), and two replicas sharing a
PostgreSQL store (an event or an erasure on one is used by the other)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from movierec.store.tables import feedback_events
from tests.databases import row_count, table_rows
from tests.servers import post_to_starting_workers, running_api
from tests.synthetic import SyntheticMovieLens

pytestmark = pytest.mark.e2e

# Every worker sees an event within flush + poll intervals (0.3 s by default) once its writer
# process runs; just after start (a spawned writer takes seconds to import on a loaded
# machine) and under load it takes longer, so the tests wait generously and
# benchmarks/serving.py measures the delay.
VISIBLE_WITHIN_S = 30.0
STARTUP_S = 180.0  # each worker starts two writer processes; slow on a loaded machine


def eventually(check: Callable[[], bool], timeout: float = VISIBLE_WITHIN_S) -> float:
    """Seconds until `check()` holds; AssertionError after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s")


def genre_movies(data: SyntheticMovieLens, genre: str) -> list[int]:
    return data.items[data.items["genres"].map(lambda g: genre in g)]["movie_id"].tolist()


def test_a_new_user_end_to_end_on_two_workers(
    tmp_path: Path, bundles: dict[str, Path], synthetic_data: SyntheticMovieLens
) -> None:
    store = tmp_path / "store.db"
    horror = genre_movies(synthetic_data, "Horror")
    accepted = 0
    with running_api(bundles["embeddings"], store, workers=2, timeout=STARTUP_S) as url:
        created = post_to_starting_workers(f"{url}/users", {})
        assert created.status_code == 201
        user_id = created.json()["user_id"]

        def reason() -> str | None:
            answer = httpx.post(f"{url}/recommend", json={"user_id": user_id}).json()
            found: str | None = answer["fallback_reason"]
            return found

        # The worker that did not create the user learns of it within its poll interval.
        eventually(lambda: all(reason() == "new_user" for _ in range(4)))
        for movie in horror[:5]:  # each on a new connection: the workers share them
            body = {"user_id": user_id, "movie_id": movie, "event": "rating", "value": 5.0}
            response = httpx.post(f"{url}/feedback", json=body)
            assert response.status_code == 202
            accepted += 1

        def every_answer_personal() -> bool:
            answers = [
                httpx.post(f"{url}/recommend", json={"user_id": user_id, "k": 5}).json()
                for _ in range(12)
            ]
            return all(not answer["is_fallback"] for answer in answers)

        eventually(every_answer_personal)
        answer = httpx.post(f"{url}/recommend", json={"user_id": user_id, "k": 5}).json()
        assert all("Horror" in movie["genres"] for movie in answer["recommendations"])
        batch = [{"user_id": user_id, "movie_id": m, "event": "click"} for m in horror[5:8]]
        for _ in range(20):
            response = httpx.post(f"{url}/feedback/batch", json={"events": batch})
            assert response.status_code == 202
            accepted += len(batch)
    assert row_count(store, feedback_events) == accepted  # all written on the graceful stop


def test_replicas_sharing_postgresql_use_each_others_events(
    tmp_path: Path,
    bundles: dict[str, Path],
    postgres_url: str,
    synthetic_data: SyntheticMovieLens,
) -> None:
    env = {"MOVIEREC_STORE__URL": postgres_url}
    drama = genre_movies(synthetic_data, "War")
    with (
        running_api(bundles["item_weights"], tmp_path / "a.db", env, timeout=STARTUP_S) as first,
        running_api(bundles["item_weights"], tmp_path / "b.db", env, timeout=STARTUP_S) as second,
    ):
        user_id = httpx.post(f"{first}/users").json()["user_id"]
        other = httpx.post(f"{second}/users").json()["user_id"]
        assert other > user_id  # one sequence of ids for all replicas

        def reason_on_second() -> str | None:
            answer = httpx.post(f"{second}/recommend", json={"user_id": user_id}).json()
            reason: str | None = answer["fallback_reason"]
            return reason

        def personal_on_second() -> bool:
            """Whether the second replica uses the user's events (one watched movie may give
            the item-item scorer fewer than k candidates: then the reason says that)."""
            return reason_on_second() != "new_user"

        # The second replica learns of the user the first created within its poll interval.
        eventually(lambda: reason_on_second() == "new_user")
        body = {"user_id": user_id, "movie_id": drama[0], "event": "watch"}
        assert httpx.post(f"{first}/feedback", json=body).status_code == 202
        eventually(personal_on_second)
        excluded = httpx.post(f"{second}/recommend", json={"user_id": user_id, "k": 50}).json()
        assert drama[0] not in [movie["movie_id"] for movie in excluded["recommendations"]]

        deleted = httpx.delete(f"{first}/users/{user_id}/feedback").json()
        assert deleted == {"user_id": user_id, "deleted": 1}
        eventually(lambda: not personal_on_second())
    assert not [row for row in table_rows(postgres_url, feedback_events)]
