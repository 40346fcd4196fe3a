"""The traffic simulator: its request mix, its guard, and a run against a real API process."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from movierec.cli import app
from movierec.config import SimulatorSettings, Thresholds, get_settings
from movierec.monitoring.bundle_info import known_ids, movie_ids
from movierec.monitoring.engagement import compute_engagement
from movierec.monitoring.kpis import compute_kpis
from movierec.monitoring.replay_eval import replay_evaluate
from movierec.monitoring.simulator import (
    SimulationError,
    TrafficSources,
    check_loopback,
    feedback_events,
    plan_requests,
    simulate,
    traffic_sources,
)
from tests.bundles import build_bundle, build_synthetic_bundle
from tests.servers import running_api
from tests.synthetic import generate

MIX = SimulatorSettings(unknown_user_share=0.2, similar_share=0.3, popular_share=0.2)


def test_plan_follows_the_mix_and_unknown_ids_are_unknown() -> None:
    sources = TrafficSources(np.arange(1, 51), np.arange(1, 91), ["Action", "Drama"])
    plan = plan_requests(sources, 2000, MIX, seed=1)
    kinds = Counter(request.endpoint for request in plan)
    assert kinds["/similar"] / 2000 == pytest.approx(0.3, abs=0.04)
    assert kinds["/popular"] / 2000 == pytest.approx(0.2, abs=0.04)
    recommend = [r for r in plan if r.endpoint == "/recommend" and r.json]
    known = set(sources.users.tolist())
    unknown = [r for r in recommend if r.json and r.json["user_id"] not in known]
    assert [r.unknown_user for r in recommend] == [r in unknown for r in recommend]
    for n in (1, 4, 5, 37, len(recommend)):  # any prefix holds the share, to one request
        assert abs(sum(r.unknown_user for r in recommend[:n]) - 0.2 * n) < 1
    assert {r.params.get("genre") for r in plan if r.params} == {None, "Action", "Drama"}
    assert plan == plan_requests(sources, 2000, MIX, seed=1)


def test_feedback_clicks_held_out_movies_rates_some_and_dislikes_some_others() -> None:
    heldout = pd.Series(
        [4.0, 2.5, 5.0],
        index=pd.MultiIndex.from_tuples([(7, 10), (7, 11), (8, 12)], names=["user_id", "movie_id"]),
    )
    sources = TrafficSources(np.array([7, 8]), np.arange(1, 20), [], 2, heldout)
    rng = np.random.default_rng(0)
    every = MIX.model_copy(update={"rating_share": 1.0, "dislike_share": 1.0})
    events = feedback_events(sources, 7, [12, 10, 3, 11], "req-1", every, rng)
    assert [(e["movie_id"], e["event"], e.get("value")) for e in events] == [
        (12, "dislike", None),  # user 8's movie: not one user 7 watched
        (10, "click", None),
        (10, "rating", 4.0),
        (3, "dislike", None),
        (11, "click", None),
        (11, "rating", 2.5),
    ]
    assert {(e["user_id"], e["request_id"]) for e in events} == {(7, "req-1")}
    clicks_only = MIX.model_copy(update={"rating_share": 0.0, "dislike_share": 0.0})
    assert [
        e["event"] for e in feedback_events(sources, 7, [10, 3, 11], "r", clicks_only, rng)
    ] == [
        "click",
        "click",
    ]
    off = MIX.model_copy(update={"feedback": False})
    assert feedback_events(sources, 7, [10, 11], "r", off, rng) == []
    some = MIX.model_copy(update={"rating_share": 0.3, "dislike_share": 0.1})
    shown = list(range(1, 20))
    counts = Counter(
        e["event"] for _ in range(400) for e in feedback_events(sources, 8, shown, "r", some, rng)
    )
    assert counts["click"] == 400  # movie 12, held out for user 8, shown every time
    assert counts["rating"] / 400 == pytest.approx(0.3, abs=0.07)
    assert counts["dislike"] / (400 * 18) == pytest.approx(0.1, abs=0.02)


def test_sources_carry_the_held_out_ratings_of_known_users(tmp_path: Path) -> None:
    held_out = held_out_split(tmp_path / "test.parquet")
    sources = traffic_sources(tmp_path / "test.parquet", bundle_of_the_first_users(tmp_path / "b"))
    known = held_out[held_out["user_id"] <= 40]
    assert len(sources.heldout) == len(known.drop_duplicates(["user_id", "movie_id"]))
    first = known.iloc[0]
    assert sources.heldout[(first["user_id"], first["movie_id"])] == first["rating"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:9"])
def test_loopback_urls_pass(url: str) -> None:
    check_loopback(url, allow_remote=False)


def test_remote_urls_need_consent() -> None:
    with pytest.raises(SimulationError, match="--allow-remote"):
        check_loopback("http://10.0.0.5:8000", allow_remote=False)
    check_loopback("http://10.0.0.5:8000", allow_remote=True)
    with pytest.raises(SimulationError, match="not an http"):
        check_loopback("ftp://127.0.0.1", allow_remote=False)


def test_sources_need_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="movierec pipeline"):
        traffic_sources(tmp_path / "test.parquet", tmp_path / "bundle")


def held_out_rows() -> pd.DataFrame:
    """The last 3 ratings of every synthetic user."""
    return generate().ratings.sort_values("timestamp", kind="stable").groupby("user_id").tail(3)


def held_out_split(path: Path) -> pd.DataFrame:
    """`held_out_rows`, written to `path` as a test split."""
    held_out = held_out_rows()
    held_out.assign(confidence=1.0).to_parquet(path, index=False)
    return held_out


def bundle_of_the_first_users(directory: Path) -> Path:
    """A bundle trained on the other ratings of synthetic users 1..40 only: users 41..120 are
    new to it, as most held-out users of a global time split are."""
    data = generate()
    train = data.ratings.drop(held_out_rows().index)
    return build_bundle(directory, train[train["user_id"] <= 40], data.items)


def test_sources_are_the_held_out_users_the_model_knows(tmp_path: Path) -> None:
    held_out = held_out_split(tmp_path / "test.parquet")
    sources = traffic_sources(tmp_path / "test.parquet", bundle_of_the_first_users(tmp_path / "b"))
    assert sources.users.tolist() == list(range(1, 41))
    assert sources.heldout_users == held_out["user_id"].nunique() == 120
    assert sources.genres and sources.movies.size == 90


def test_sources_refuse_a_split_the_model_knows_nobody_of(tmp_path: Path) -> None:
    pd.DataFrame({"user_id": [5000, 5001], "movie_id": [1, 2]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(SimulationError, match="none of the 2 users"):
        traffic_sources(tmp_path / "t.parquet", build_synthetic_bundle(tmp_path / "bundle"))


@pytest.mark.e2e
def test_simulated_traffic_falls_back_only_for_the_configured_unknown_share(
    tmp_path: Path,
) -> None:
    """Two thirds of the held-out users are new to the served model; the fallback rate is
    still the configured unknown share, well under the alert threshold."""
    model_dir = bundle_of_the_first_users(tmp_path / "production")
    test_path = tmp_path / "test.parquet"
    held_out_split(test_path)
    sources = traffic_sources(test_path, model_dir)
    log_db = tmp_path / "logs" / "requests.db"
    mix = SimulatorSettings(unknown_user_share=0.1, similar_share=0.2, popular_share=0.1)

    with running_api(model_dir, log_db) as url:
        report = simulate(url, sources, rate=40, duration_s=4, max_requests=120, mix=mix, seed=3)

    assert 80 <= report.sent <= 120
    assert report.errors == 0 and report.served == report.sent, report.error_samples
    assert set(report.by_endpoint) == {"/recommend", "/similar", "/popular"}
    assert (
        report.known_user_requests + report.unknown_user_requests
        == report.by_endpoint["/recommend"]
    )
    assert (report.heldout_users, report.known_heldout_users) == (120, 40)
    with sqlite3.connect(log_db) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0]
    assert rows == report.served

    kpis = compute_kpis(log_db, None, None, 90, Thresholds(), "1s")
    assert kpis.requests_per_endpoint == report.by_endpoint
    assert kpis.fallback_requests == report.unknown_user_requests > 0
    assert kpis.fallback_rate == pytest.approx(0.1, abs=0.03)
    assert {reason.reason for reason in kpis.fallback_reasons} == {"unknown_user"}
    assert "fallback_rate" not in {alert.name for alert in kpis.alerts}
    replay = replay_evaluate(log_db, test_path, 10, model_dir)
    assert replay.requests_evaluated == kpis.recommend_requests - kpis.fallback_requests
    assert replay.overall is not None and replay.overall.impressions > 0

    # Feedback: a click on each shown held-out movie, some ratings and dislikes, all stored
    # under the answers' request ids; the replay counts those real clicks.
    assert set(report.feedback_status) == {"202"} and report.feedback_events["click"] > 0
    assert report.feedback_events.get("rating", 0) > 0
    with sqlite3.connect(log_db) as conn:
        stored = dict(conn.execute("SELECT event, COUNT(*) FROM feedback_events GROUP BY event"))
        unknown = conn.execute("SELECT COUNT(*) FROM feedback_events WHERE NOT request_known")
        assert unknown.fetchone()[0] == 0
    assert stored == report.feedback_events
    engagement = compute_engagement(log_db)
    assert engagement.overall is not None
    assert engagement.overall.ctr.count == report.feedback_events["click"]
    assert engagement.overall.rating_rate.count == report.feedback_events["rating"]
    assert replay.overall.clicks_source == "feedback"
    assert replay.overall.clicks == engagement.overall.ctr.count


@pytest.mark.e2e
def test_simulate_command_against_a_real_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production")
    log_db = tmp_path / "requests.db"
    monkeypatch.setenv("MOVIEREC_SERVING__MODEL_DIR", str(model_dir))
    monkeypatch.setenv("MOVIEREC_DATA__PROCESSED_DIR", str(tmp_path / "no-split"))
    get_settings.cache_clear()
    try:
        with running_api(model_dir, log_db) as url:
            result = CliRunner().invoke(
                app, ["simulate", "--api-url", url, "--rate", "20", "--duration", "1"]
            )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    with sqlite3.connect(log_db) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0]
    assert 15 <= rows <= 20  # users drawn from the bundle: there is no test split
    assert f"{rows} served (200), 0 failed" in result.output
    assert "no test split: users drawn from the bundle's user mapping" in result.output


@pytest.mark.e2e
def test_simulate_draws_the_users_of_a_given_heldout_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production")
    log_db = tmp_path / "requests.db"
    users = [int(user) for user in known_ids(model_dir)[:2]]
    movies = [int(movie) for movie in movie_ids(model_dir)]
    heldout = tmp_path / "heldout.parquet"
    rows = [(user, movie, 5.0) for user in users for movie in movies]
    pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"]).to_parquet(heldout)
    monkeypatch.setenv("MOVIEREC_SERVING__MODEL_DIR", str(model_dir))
    monkeypatch.setenv("MOVIEREC_MONITORING__SIMULATOR__UNKNOWN_USER_SHARE", "0")
    get_settings.cache_clear()
    try:
        with running_api(model_dir, log_db) as url:
            command = ["simulate", "--api-url", url, "--rate", "20", "--duration", "1"]
            result = CliRunner().invoke(app, [*command, "--heldout", str(heldout)])
            missing = CliRunner().invoke(app, [*command, "--heldout", str(tmp_path / "no")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "held-out users: 2 of 2 are known to the model" in result.output
    with sqlite3.connect(log_db) as conn:
        logged = conn.execute(
            "SELECT DISTINCT user_id FROM request_logs WHERE endpoint = '/recommend'"
        ).fetchall()
    assert {user for (user,) in logged} == set(users)
    assert missing.exit_code == 1 and "no held-out file" in missing.output
