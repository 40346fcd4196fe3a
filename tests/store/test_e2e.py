"""The request log in PostgreSQL end to end: two real uvicorn workers write it through
`store.url`, and monitoring reads it back through the same URL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from movierec.config import Thresholds
from movierec.monitoring.kpis import compute_kpis
from movierec.store.tables import request_logs
from tests.bundles import build_synthetic_bundle
from tests.databases import row_count
from tests.servers import post_to_starting_workers, running_api

pytestmark = pytest.mark.e2e


def test_two_workers_log_to_postgresql_and_monitoring_reads_it(
    postgres_url: str, tmp_path: Path
) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production")
    unused_file = tmp_path / "requests.db"
    env = {"MOVIEREC_STORE__URL": postgres_url}
    # Two workers, each spawning its writer process, start slowly on a busy 2-core machine.
    with running_api(model_dir, unused_file, workers=2, env=env, timeout=120) as url:
        for user_id in range(1, 101):  # a new connection each time, so both workers answer
            response = post_to_starting_workers(f"{url}/recommend", {"user_id": user_id, "k": 3})
            assert response.status_code == 200
        assert httpx.get(f"{url}/popular", params={"k": 2}).status_code == 200
    assert row_count(postgres_url, request_logs) == 101
    assert not unused_file.exists()
    report = compute_kpis(postgres_url, None, None, 50, Thresholds(), "1min")
    assert report.requests_per_endpoint == {"/popular": 1, "/recommend": 100}
    assert report.unique_users == 100
