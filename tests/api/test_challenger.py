"""Champion and challenger in one app: a sticky share of users gets the challenger, each
answer, log row and feedback event names the version that served its user, and the
challenger follows its directory (loaded, dropped)."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from movierec.serving.routing import serves_challenger
from tests.api.conftest import ClientFactory, log_rows
from tests.bundles import build_synthetic_bundle

USERS = range(1, 121)


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_sticky_share_of_users_gets_the_challenger_and_the_log_says_so(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    champion = build_synthetic_bundle(tmp_path / "production", version="1")
    challenger = build_synthetic_bundle(tmp_path / "challenger", "item_weights", version="2")
    log_db = tmp_path / "requests.db"
    settings = dict(
        model_dir=champion,
        challenger_dir=challenger,
        challenger_share=0.3,
        reload_poll_s=0.05,
        log_db=log_db,
    )
    with make_client(**settings) as client:

        def version_of(user: int) -> str:
            answer = client.post("/recommend", json={"user_id": user, "k": 3})
            assert answer.status_code == 200
            return str(answer.json()["model_version"])

        wait_for(lambda: version_of(next(u for u in USERS if serves_challenger(u, 0.3))) == "2")
        first = {user: version_of(user) for user in USERS}
        assert first == {user: "2" if serves_challenger(user, 0.3) else "1" for user in USERS}
        assert 0.15 < sum(v == "2" for v in first.values()) / len(first) < 0.45
        assert {user: version_of(user) for user in USERS} == first  # sticky
        for user in (3, 4, 5, 6):
            event = {"user_id": user, "movie_id": 1, "event": "click"}
            assert client.post("/feedback", json=event).status_code == 202

        shutil.rmtree(challenger)  # withdrawn: every user is back on the champion
        wait_for(lambda: all(version_of(user) == "1" for user in USERS))
    logged = {(row["user_id"], row["model_version"]) for row in log_rows(log_db)}
    assert {(user, version) for user, version in first.items()} <= logged
    with sqlite3.connect(log_db) as conn:
        events = dict(conn.execute("SELECT user_id, model_version FROM feedback_events"))
    assert events == {user: first[user] for user in (3, 4, 5, 6)}


def test_no_challenger_means_the_champion_for_everyone(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    champion = build_synthetic_bundle(tmp_path / "production", version="1")
    with make_client(
        model_dir=champion, challenger_dir=tmp_path / "none", challenger_share=1.0
    ) as client:
        versions = {
            client.post("/recommend", json={"user_id": u, "k": 3}).json()["model_version"]
            for u in USERS
        }
    assert versions == {"1"}
