"""GET /metrics: Prometheus text with requests, latency, fallbacks, the log queue, the model
version and reloads; with several workers, every worker's requests."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.bundles import build_synthetic_bundle
from tests.servers import free_port, running_process

TOKEN = "metrics-token"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def client(make_module_client: Callable[..., TestClient]) -> TestClient:
    return make_module_client(admin_token=TOKEN)


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def test_requests_latency_and_fallbacks_are_counted_per_endpoint_and_status(
    client: TestClient,
) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.post("/recommend", json={"user_id": 1}).status_code == 200
    assert client.post("/recommend", json={"user_id": 999_999}).json()["is_fallback"]
    assert client.post("/recommend", json={"user_id": "x"}).status_code == 422
    assert client.get("/no/such/path").status_code == 404
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("movierec_requests_total", endpoint="/recommend", status="200") == 4
    assert delta("movierec_requests_total", endpoint="/recommend", status="422") == 1
    assert delta("movierec_requests_total", endpoint="other", status="404") == 1
    timed = "movierec_request_duration_seconds_count"
    assert delta(timed, endpoint="/recommend", status="200") == 4
    assert delta("movierec_request_duration_seconds_sum", endpoint="/recommend", status="200") > 0
    reason = {"endpoint": "/recommend", "reason": "unknown_user"}
    assert delta("movierec_fallbacks_total", **reason) == 1


def test_model_version_reloads_and_log_queue_are_exported(client: TestClient) -> None:
    version = client.get("/health").json()["model_version"]
    before = scrape(client)
    assert value(before, "movierec_model_info", version=version) == 1
    assert client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).is_success
    after = scrape(client)
    loaded = value(after, "movierec_reloads_total", result="loaded")
    assert loaded - value(before, "movierec_reloads_total", result="loaded") == 1
    assert ("movierec_request_log_queue_depth", ()) in after
    assert ("movierec_request_log_dropped_total", ()) in after


@pytest.mark.e2e
def test_with_two_workers_metrics_count_every_workers_requests(tmp_path: Path) -> None:
    bundle = build_synthetic_bundle(tmp_path / "bundle")
    port = free_port()
    command = [
        *(sys.executable, "-m", "movierec.cli", "serve", "--workers", "2"),
        *("--model-dir", str(bundle), "--log-db", str(tmp_path / "requests.db")),
        *("--host", "127.0.0.1", "--port", str(port)),
    ]
    url = f"http://127.0.0.1:{port}"
    with (
        tempfile.TemporaryFile() as output,
        running_process(command, {}, f"{url}/health", output, timeout=120),
    ):
        counted = set()
        for _ in range(30):  # a new connection each time, so that both workers answer
            answer = httpx.post(f"{url}/recommend", json={"user_id": 2}, timeout=10)
            assert answer.status_code == 200
        for _ in range(20):
            found = samples(httpx.get(f"{url}/metrics", timeout=10).text)
            counted.add(
                value(found, "movierec_requests_total", endpoint="/recommend", status="200")
            )
        # Whichever worker answers the scrape, it counts both workers' requests.
        assert counted == {30.0}
