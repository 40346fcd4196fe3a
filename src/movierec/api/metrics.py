"""Prometheus metrics of the API, served by GET /metrics; safe with several worker processes.

With `PROMETHEUS_MULTIPROC_DIR` set (`movierec serve` sets it to a fresh directory when it
starts several workers), each process writes its samples to files there and /metrics adds up
every worker's (prometheus-client's multiprocess mode); without it, /metrics shows the one
process. Endpoint labels are the API's route paths, anything else is "other", so that random
paths cannot grow the number of series.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from movierec.store.writer import WriterStats

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"

REQUESTS = Counter(
    "movierec_requests_total",
    "HTTP requests answered, by endpoint and status",
    ["endpoint", "status"],
)
LATENCY = Histogram(
    "movierec_request_duration_seconds",
    "Server-side time from the request's arrival to its last byte, by endpoint and status",
    ["endpoint", "status"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
FALLBACKS = Counter(
    "movierec_fallbacks_total",
    "Answers (partly) from the popularity fallback, by endpoint and reason",
    ["endpoint", "reason"],
)
LOG_QUEUE = Gauge(
    "movierec_request_log_queue_depth",
    "Request-log rows queued or being written, not yet in the store",
    multiprocess_mode="livesum",
)
LOG_DROPPED = Counter(
    "movierec_request_log_dropped_total", "Request-log rows dropped because the queue was full"
)
LOG_FAILED = Counter(
    "movierec_request_log_failed_total", "Request-log rows the store refused or never received"
)
MODEL = Gauge(
    "movierec_model_info",
    "1 for the model version a worker serves, 0 for one it served before",
    ["version"],
    multiprocess_mode="livemax",
)
RELOADS = Counter("movierec_reloads_total", "Model loads and reloads, by result", ["result"])


class RequestMetrics:
    """Counts and times requests; label children are cached (a `labels()` call per request
    would cost more than the increment)."""

    def __init__(self, endpoints: set[str]) -> None:
        self.endpoints = endpoints
        self._children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def label(self, path: str) -> str:
        return path if path in self.endpoints else OTHER

    def observe(self, path: str, status: int, seconds: float) -> None:
        key = (path, status)
        children = self._children.get(key)
        if children is None:
            endpoint, code = self.label(path), str(status)
            children = REQUESTS.labels(endpoint, code), LATENCY.labels(endpoint, code)
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def fallback(self, endpoint: str, reason: str | None) -> None:
        FALLBACKS.labels(endpoint, reason or "unknown").inc()


class LogCounters:
    """Turns the request logger's running totals into the log metrics of this process."""

    def __init__(self) -> None:
        self._dropped = self._failed = 0

    def update(self, stats: WriterStats) -> None:
        LOG_QUEUE.set(stats.queued - stats.written - stats.failed)
        LOG_DROPPED.inc(stats.dropped - self._dropped)
        LOG_FAILED.inc(stats.failed - self._failed)
        self._dropped, self._failed = stats.dropped, stats.failed


def served_version(version: str, previous: str | None) -> None:
    """Record that this process now serves `version` (and no longer `previous`)."""
    if previous is not None and previous != version:
        MODEL.labels(previous).set(0)
    MODEL.labels(version).set(1)


def reloaded(result: str) -> None:
    RELOADS.labels(result).inc()


def exposition() -> bytes:
    """Every metric in the Prometheus text format: all workers' in multiprocess mode."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_exited() -> None:
    """Drop this process's live gauges from the multiprocess files (on a graceful stop)."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(os.getpid())
