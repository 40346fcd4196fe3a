"""Traffic simulator: replays held-out users against a running API so monitoring has data.

The mix follows `monitoring.simulator` in the config: a share of /similar calls (random known
movies), a share of /popular calls (half of them for a random genre), and the rest /recommend.
`unknown_user_share` of the /recommend calls, spread evenly, go to ids no model knows and
exercise the cold-start fallback; the others go to held-out users (the test split) whom the
served model knows, i.e. who are in the bundle's user mapping. Held-out users without training
history are left out: under a global time split they are most of the test split, and sending
them would make the fallback rate the split's share of new users, not the configured one.
Without a test split the bundle's users are drawn. With `feedback` on, the answer to each
/recommend call for a held-out user is followed by that user's feedback, in one
`POST /feedback/batch` naming the answer's `request_id`: a click on every shown movie the user
watched in the held-out period, that movie's held-out rating for `rating_share` of them, and a
dislike for `dislike_share` of the other shown movies. Requests go out one after another on a
fixed schedule (`rate` per second, so the achievable rate is bounded by the API's latency),
and stop at `max_requests` or after `duration_s`, whichever comes first. Only loopback
addresses are accepted unless `allow_remote` is set: a load generator should not be pointed
at someone else's server by accident.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from movierec.artifacts import USER_MAPPING
from movierec.config import SimulatorSettings
from movierec.data.parquet import ParquetFileError, read_frame
from movierec.endpoints import FEEDBACK_BATCH, POPULAR, RECOMMEND, SIMILAR
from movierec.monitoring.bundle_info import genres, known_ids, movie_ids

MAX_ERROR_SAMPLES = 5


class SimulationError(ValueError):
    """The simulation cannot start: a remote URL without consent, or nothing to replay."""


@dataclass
class TrafficSources:
    """Ids the simulator draws from: `users` are known to the served model; `heldout_users`
    counts the test split's users (0 without a split), known or not."""

    users: np.ndarray
    movies: np.ndarray
    genres: list[str]
    heldout_users: int = 0
    heldout: pd.Series = field(default_factory=lambda: pd.Series(dtype=np.float64))
    """The held-out rating of each (user_id, movie_id) of the test split (NaN when the split
    has none), sorted by both."""


@dataclass
class PlannedRequest:
    endpoint: str
    method: str
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    unknown_user: bool = False


class SimulationReport(BaseModel):
    """What was sent and how the API answered; `served` counts the 200 answers."""

    api_url: str
    sent: int
    served: int
    errors: int
    elapsed_s: float
    achieved_rate: float
    by_endpoint: dict[str, int]
    by_status: dict[str, int]
    by_endpoint_status: dict[str, dict[str, int]]
    known_user_requests: int
    unknown_user_requests: int
    heldout_users: int
    known_heldout_users: int
    feedback_events: dict[str, int]
    feedback_status: dict[str, int]
    error_samples: list[str]


def check_loopback(api_url: str, allow_remote: bool) -> None:
    """Refuse a non-loopback `api_url` unless `allow_remote`."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SimulationError(
            f"api url {api_url!r} is not an http(s) URL such as http://127.0.0.1:8000"
        )
    host = parts.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_remote:
        raise SimulationError(
            f"{host} is not a loopback address; pass --allow-remote to load-test a remote API"
        )


def traffic_sources(test_path: Path | None, model_dir: Path) -> TrafficSources:
    """Held-out users the bundle knows (all its users without a test split), its movies and
    genres."""
    if not (model_dir / USER_MAPPING).is_file():
        raise SimulationError(
            f"no production bundle in {model_dir}: the simulator sends the users the served "
            "model knows; run `movierec pipeline` first"
        )
    known = np.asarray(known_ids(model_dir), dtype=np.int64)
    users, heldout, ratings = known, 0, pd.Series(dtype=np.float64)
    if test_path is not None and test_path.is_file():
        try:
            split = read_frame(test_path)
        except ParquetFileError as exc:
            raise SimulationError(f"{exc}; run `movierec process` to write it again") from exc
        if "rating" not in split:
            split["rating"] = np.nan  # watched, rating unknown: clicked, never rated
        ids = np.unique(split["user_id"].to_numpy(np.int64))
        users, heldout = np.intersect1d(ids, known), ids.size
        known_split = split[split["user_id"].isin(users)].astype({"user_id": "int64"})
        ratings = (
            known_split.drop_duplicates(["user_id", "movie_id"], keep="last")
            .set_index(["user_id", "movie_id"])["rating"]
            .sort_index()
        )
    if users.size == 0:
        raise SimulationError(
            f"none of the {heldout} users of {test_path} is known to the model in {model_dir}; "
            "run `movierec pipeline` so that the split and the bundle match"
        )
    return TrafficSources(
        users, np.asarray(movie_ids(model_dir), np.int64), genres(model_dir), heldout, ratings
    )


def feedback_events(
    sources: TrafficSources,
    user: int,
    shown: list[int],
    request_id: str,
    mix: SimulatorSettings,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """What held-out `user` does with the `shown` movies of answer `request_id` (module
    docstring): clicks on held-out movies, some rated, some of the others disliked."""
    if not mix.feedback or not shown or sources.heldout.empty:
        return []
    pairs = pd.MultiIndex.from_arrays([[user] * len(shown), shown])
    watched = pairs.isin(sources.heldout.index)
    ratings = sources.heldout.reindex(pairs).to_numpy()
    rated = watched & ~np.isnan(ratings) & (rng.random(len(shown)) < mix.rating_share)
    disliked = ~watched & (rng.random(len(shown)) < mix.dislike_share)
    events: list[dict[str, Any]] = []
    for movie, was_watched, was_rated, was_disliked, rating in zip(
        shown, watched, rated, disliked, ratings, strict=True
    ):
        base = {"user_id": user, "movie_id": movie, "request_id": request_id}
        if was_watched:
            events.append({**base, "event": "click"})
        if was_rated:
            events.append({**base, "event": "rating", "value": float(np.clip(rating, 0.5, 5.0))})
        if was_disliked:
            events.append({**base, "event": "dislike"})
    return events


def plan_requests(
    sources: TrafficSources, count: int, mix: SimulatorSettings, seed: int = 0
) -> list[PlannedRequest]:
    """`count` requests in the configured mix, drawn with a seeded generator. Of the first n
    /recommend requests, floor(n * `unknown_user_share`) are for unknown ids, evenly spread,
    so the share holds however early the run stops."""
    rng = np.random.default_rng(seed)
    other = max(0.0, 1.0 - mix.similar_share - mix.popular_share)
    shares = np.array([other, mix.similar_share, mix.popular_share])
    kinds = rng.choice(3, size=count, p=shares / shares.sum())
    share = mix.unknown_user_share
    unknown_base = int(sources.users.max(initial=0)) + 1_000_000
    recommended = 0
    plan: list[PlannedRequest] = []
    for kind in kinds.tolist():
        if kind == 1:
            movie = int(rng.choice(sources.movies))
            plan.append(PlannedRequest(SIMILAR, "POST", json={"movie_id": movie, "k": 10}))
        elif kind == 2:
            params: dict[str, Any] = {"k": 10}
            if sources.genres and rng.random() < 0.5:
                params["genre"] = sources.genres[int(rng.integers(len(sources.genres)))]
            plan.append(PlannedRequest(POPULAR, "GET", params=params))
        else:
            recommended += 1
            is_unknown = math.floor(recommended * share) > math.floor((recommended - 1) * share)
            user = (
                unknown_base + int(rng.integers(1_000_000))
                if is_unknown
                else int(rng.choice(sources.users))
            )
            body = {"user_id": user, "k": 10}
            plan.append(PlannedRequest(RECOMMEND, "POST", json=body, unknown_user=is_unknown))
    return plan


def simulate(
    api_url: str,
    sources: TrafficSources,
    rate: float,
    duration_s: float,
    max_requests: int,
    mix: SimulatorSettings,
    seed: int = 0,
    allow_remote: bool = False,
    show_progress: bool = True,
) -> SimulationReport:
    """Send at most `max_requests` requests at `rate` per second for at most `duration_s`."""
    check_loopback(api_url, allow_remote)
    if rate <= 0 or duration_s <= 0 or max_requests < 1:
        raise SimulationError("rate and duration must be positive and max_requests at least 1")
    total = min(max_requests, math.ceil(rate * duration_s))
    plan = plan_requests(sources, total, mix, seed)
    statuses: Counter[tuple[str, str]] = Counter()
    sent_events: Counter[str] = Counter()
    feedback_status: Counter[str] = Counter()
    feedback_rng = np.random.default_rng([seed, 1])
    samples: list[str] = []

    def note(failure: str) -> None:
        if len(samples) < MAX_ERROR_SAMPLES:
            samples.append(failure)

    progress = Progress(
        TextColumn("[bold]simulating traffic"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show_progress,
    )
    start = time.monotonic()
    with httpx.Client(base_url=api_url, timeout=5.0) as client, progress:
        task = progress.add_task("requests", total=total)
        for index, request in enumerate(plan):
            due = start + index / rate
            now = time.monotonic()
            if now - start >= duration_s:
                break
            if due > now:
                time.sleep(due - now)
            events: list[dict[str, Any]] = []
            try:
                response = client.request(
                    request.method, request.endpoint, json=request.json, params=request.params
                )
                status = str(response.status_code)
                if response.status_code >= 400:
                    note(f"{request.endpoint} {status}: {response.text[:200]}")
                elif request.endpoint == RECOMMEND and not request.unknown_user:
                    answer = response.json()
                    shown = [movie["movie_id"] for movie in answer["recommendations"]]
                    user = int((request.json or {})["user_id"])
                    events = feedback_events(
                        sources, user, shown, answer["request_id"], mix, feedback_rng
                    )
            except httpx.HTTPError as exc:
                status = "error"
                note(f"{request.endpoint}: {type(exc).__name__}: {exc}")
            statuses[(request.endpoint, status)] += 1
            if events:
                outcome = post_feedback(client, events)
                feedback_status[outcome] += 1
                if outcome == "202":
                    sent_events.update(event["event"] for event in events)
                else:
                    note(f"{FEEDBACK_BATCH} {outcome}")
            progress.advance(task)
    elapsed = time.monotonic() - start
    by_endpoint_status: dict[str, dict[str, int]] = {}
    for (endpoint, status), count in sorted(statuses.items()):
        by_endpoint_status.setdefault(endpoint, {})[status] = count
    by_status: Counter[str] = Counter()
    for (_, status), count in statuses.items():
        by_status[status] += count
    sent = sum(statuses.values())
    recommended = [request for request in plan[:sent] if request.endpoint == RECOMMEND]
    unknown = sum(request.unknown_user for request in recommended)
    return SimulationReport(
        api_url=api_url,
        sent=sent,
        served=by_status.get("200", 0),
        errors=by_status.get("error", 0),
        elapsed_s=elapsed,
        achieved_rate=sent / elapsed if elapsed > 0 else 0.0,
        by_endpoint={e: sum(s.values()) for e, s in by_endpoint_status.items()},
        by_status=dict(sorted(by_status.items())),
        by_endpoint_status=by_endpoint_status,
        known_user_requests=len(recommended) - unknown,
        unknown_user_requests=unknown,
        heldout_users=sources.heldout_users,
        known_heldout_users=sources.users.size if sources.heldout_users else 0,
        feedback_events=dict(sorted(sent_events.items())),
        feedback_status=dict(sorted(feedback_status.items())),
        error_samples=samples,
    )


def post_feedback(client: httpx.Client, events: list[dict[str, Any]]) -> str:
    """Send `events` in one batch; the answer's status, or 'error' when none came."""
    try:
        return str(client.post(FEEDBACK_BATCH, json={"events": events}).status_code)
    except httpx.HTTPError:
        return "error"


def users_summary(report: SimulationReport) -> str:
    """Whom the /recommend calls went to (known users, unknown ids) and where those came from."""
    recommended = report.known_user_requests + report.unknown_user_requests
    share = report.unknown_user_requests / recommended if recommended else 0.0
    sent = (
        f"{RECOMMEND}: {report.known_user_requests} for users the model knows, "
        f"{report.unknown_user_requests} for unknown ids ({share:.1%})"
    )
    if not report.heldout_users:
        return f"{sent}\nno test split: users drawn from the bundle's user mapping"
    cold = report.heldout_users - report.known_heldout_users
    return (
        f"{sent}\nheld-out users: {report.known_heldout_users} of {report.heldout_users} are "
        f"known to the model and were drawn; the other {cold} have no training history"
    )


def render_simulation(report: SimulationReport, console: Console) -> None:
    """Print requests per endpoint and status, and whom /recommend was asked for."""
    statuses = sorted(report.by_status)
    table = Table(title="Simulated traffic: answers per endpoint and status")
    table.add_column("endpoint")
    for status in statuses:
        table.add_column(status, justify="right")
    for endpoint, counts in report.by_endpoint_status.items():
        table.add_row(endpoint, *(str(counts.get(status, 0)) for status in statuses))
    console.print(table)
    console.print(
        f"{report.sent} requests to {report.api_url} in {report.elapsed_s:.1f} s "
        f"({report.achieved_rate:.1f}/s): {report.served} served (200), {report.errors} failed"
    )
    console.print(users_summary(report))
    if report.feedback_status:
        kinds = ", ".join(f"{count} {kind}" for kind, count in report.feedback_events.items())
        batches = ", ".join(
            f"{n} answered {status}" for status, n in report.feedback_status.items()
        )
        console.print(f"feedback: {kinds or 'no events stored'} ({FEEDBACK_BATCH}: {batches})")
    for sample in report.error_samples:
        console.print(f"[yellow]{sample}[/]")
