"""Traffic simulator: replays held-out users against a running API so monitoring has data.

The mix follows `monitoring.simulator` in the config: a share of /similar calls (random known
movies), a share of /popular calls (half of them for a random genre), and the rest /recommend
for held-out users (the test split; the bundle's users when there is none), a share of which
are unknown ids that exercise the cold-start fallback. Requests go out one after another on a
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
from dataclasses import dataclass
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

from movierec.config import SimulatorSettings
from movierec.monitoring.bundle_info import genres, known_ids, movie_ids

MAX_ERROR_SAMPLES = 5


class SimulationError(ValueError):
    """The simulation cannot start: a remote URL without consent, or nothing to replay."""


@dataclass
class TrafficSources:
    """Ids the simulator draws from."""

    users: np.ndarray
    movies: np.ndarray
    genres: list[str]


@dataclass
class PlannedRequest:
    endpoint: str
    method: str
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None


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


def traffic_sources(test_path: Path | None, model_dir: Path | None) -> TrafficSources:
    """Users of the held-out split (or of the bundle), movies and genres of the bundle."""
    has_bundle = model_dir is not None and (model_dir / "item_mapping.json").is_file()
    heldout = (
        pd.read_csv(test_path, usecols=["user_id", "movie_id"])
        if test_path is not None and test_path.is_file()
        else None
    )
    if heldout is not None:
        users = np.unique(heldout["user_id"].to_numpy(dtype=np.int64))
    elif has_bundle and model_dir is not None:
        users = np.asarray(known_ids(model_dir), dtype=np.int64)
    else:
        raise SimulationError(
            f"no users to replay: neither the test split {test_path} nor a production bundle "
            f"in {model_dir} exists; run `movierec pipeline` first"
        )
    if has_bundle and model_dir is not None:
        movies = np.asarray(movie_ids(model_dir), dtype=np.int64)
        names = genres(model_dir)
    elif heldout is not None:
        movies, names = np.unique(heldout["movie_id"].to_numpy(dtype=np.int64)), []
    return TrafficSources(users=users, movies=movies, genres=names)


def plan_requests(
    sources: TrafficSources, count: int, mix: SimulatorSettings, seed: int = 0
) -> list[PlannedRequest]:
    """`count` requests in the configured mix, drawn with a seeded generator."""
    rng = np.random.default_rng(seed)
    other = max(0.0, 1.0 - mix.similar_share - mix.popular_share)
    shares = np.array([other, mix.similar_share, mix.popular_share])
    kinds = rng.choice(3, size=count, p=shares / shares.sum())
    unknown_base = int(sources.users.max(initial=0)) + 1_000_000
    plan: list[PlannedRequest] = []
    for kind in kinds.tolist():
        if kind == 1 and sources.movies.size:
            movie = int(rng.choice(sources.movies))
            plan.append(PlannedRequest("/similar", "POST", json={"movie_id": movie, "k": 10}))
        elif kind == 2:
            params: dict[str, Any] = {"k": 10}
            if sources.genres and rng.random() < 0.5:
                params["genre"] = sources.genres[int(rng.integers(len(sources.genres)))]
            plan.append(PlannedRequest("/popular", "GET", params=params))
        else:
            unknown = rng.random() < mix.unknown_user_share
            user = (
                unknown_base + int(rng.integers(1_000_000))
                if unknown
                else rng.choice(sources.users)
            )
            plan.append(PlannedRequest("/recommend", "POST", json={"user_id": int(user), "k": 10}))
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
    samples: list[str] = []
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
            try:
                response = client.request(
                    request.method, request.endpoint, json=request.json, params=request.params
                )
                status = str(response.status_code)
                if response.status_code >= 400 and len(samples) < MAX_ERROR_SAMPLES:
                    samples.append(f"{request.endpoint} {status}: {response.text[:200]}")
            except httpx.HTTPError as exc:
                status = "error"
                if len(samples) < MAX_ERROR_SAMPLES:
                    samples.append(f"{request.endpoint}: {type(exc).__name__}: {exc}")
            statuses[(request.endpoint, status)] += 1
            progress.advance(task)
    elapsed = time.monotonic() - start
    by_endpoint_status: dict[str, dict[str, int]] = {}
    for (endpoint, status), count in sorted(statuses.items()):
        by_endpoint_status.setdefault(endpoint, {})[status] = count
    by_status: Counter[str] = Counter()
    for (_, status), count in statuses.items():
        by_status[status] += count
    sent = sum(statuses.values())
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
        error_samples=samples,
    )


def render_simulation(report: SimulationReport, console: Console) -> None:
    """Print requests per endpoint and status."""
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
    for sample in report.error_samples:
        console.print(f"[yellow]{sample}[/]")
