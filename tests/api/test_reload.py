"""POST /admin/reload: auth, atomic swap under traffic, bad bundles refused."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np

from movierec.artifacts import USER_EMBEDDINGS, write_manifest
from tests.api.conftest import ClientFactory
from tests.bundles import build_bundle, build_synthetic_bundle
from tests.synthetic import generate

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_reload_is_disabled_without_a_token(make_client: ClientFactory) -> None:
    with make_client(admin_token="") as client:
        response = client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 404
        assert "MOVIEREC_ADMIN_TOKEN" in response.json()["detail"]


def test_reload_needs_the_right_token(make_client: ClientFactory) -> None:
    with make_client(admin_token=TOKEN) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            response = client.post("/admin/reload", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"


def test_a_good_bundle_swaps_in_without_failing_a_request(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production", version="v1")
    with make_client(model_dir=model_dir, admin_token=TOKEN) as client:
        first_loaded = client.get("/health").json()["model_loaded_at"]
        failures: list[int] = []
        versions: set[str] = set()
        stop = threading.Event()

        def keep_requesting() -> None:
            while not stop.is_set():
                response = client.post("/recommend", json={"user_id": 3, "k": 5})
                if response.status_code != 200:
                    failures.append(response.status_code)
                else:
                    versions.add(response.json()["model_version"])

        worker = threading.Thread(target=keep_requesting)
        worker.start()
        try:
            for round_ in range(2, 5):
                staging = build_synthetic_bundle(
                    tmp_path / f"staging{round_}", "item_weights", version=f"v{round_}"
                )
                shutil.rmtree(model_dir)
                staging.rename(model_dir)
                response = client.post("/admin/reload", headers=AUTH)
                assert response.status_code == 200, response.text
                assert response.json()["model_version"] == f"v{round_}"
                assert response.json()["previous_version"] == f"v{round_ - 1}"
            deadline = time.monotonic() + 10  # let the requester see the last version too
            while "v4" not in versions and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            worker.join()
        assert failures == []
        assert "v1" in versions and "v4" in versions
        health = client.get("/health").json()
        assert health["model_version"] == "v4" and health["scorer"] == "item_weights"
        assert health["model_loaded_at"] > first_loaded


def test_a_corrupt_bundle_is_refused_and_the_old_model_keeps_serving(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production", version="good")
    with make_client(model_dir=model_dir, admin_token=TOKEN) as client:
        embeddings = np.load(model_dir / USER_EMBEDDINGS)
        embeddings[0, 0] = np.nan
        (model_dir / USER_EMBEDDINGS).unlink()  # the loaded model keeps its mapping
        np.save(model_dir / USER_EMBEDDINGS, embeddings)
        write_manifest(model_dir)  # a bundle exported broken, not damaged afterwards
        response = client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 409
        detail = response.json()["detail"]
        assert USER_EMBEDDINGS in detail and "NaN" in detail and "make train" in detail
        assert "Still serving good" in detail
        assert client.get("/health").json()["model_version"] == "good"
        served = client.post("/recommend", json={"user_id": 1})
        assert served.status_code == 200 and served.json()["model_version"] == "good"


def test_reload_brings_a_not_ready_service_up(make_client: ClientFactory, tmp_path: Path) -> None:
    model_dir = tmp_path / "production"
    with make_client(model_dir=model_dir, admin_token=TOKEN) as client:
        assert client.post("/admin/reload", headers=AUTH).status_code == 409
        assert client.get("/health").status_code == 503
        build_synthetic_bundle(model_dir, version="late")
        assert client.post("/admin/reload", headers=AUTH).json()["previous_version"] is None
        assert client.get("/health").json()["model_version"] == "late"


def test_health_reports_a_refused_reload_and_the_dataset(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production", version="good")
    with make_client(model_dir=model_dir, admin_token=TOKEN) as client:
        health = client.get("/health").json()
        assert health["dataset"] == "synthetic"
        assert health["last_reload"]["result"] == "loaded"
        assert health["last_reload"]["error"] is None
        started = health["last_reload"]["time"]
        (model_dir / USER_EMBEDDINGS).write_bytes(b"not an array")
        assert client.post("/admin/reload", headers=AUTH).status_code == 409
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["model_version"] == "good"
        refused = health["last_reload"]
        assert refused["result"] == "refused" and refused["time"] > started
        assert USER_EMBEDDINGS in refused["error"] and "manifest.json" in refused["error"]


def test_a_bundle_of_another_dataset_is_refused_by_a_reload(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    model_dir = build_synthetic_bundle(tmp_path / "production", version="ml")
    with make_client(model_dir=model_dir, admin_token=TOKEN) as client:
        data = generate()
        shutil.rmtree(model_dir)
        build_bundle(model_dir, data.ratings, data.items, version="other", dataset="ml-25m")
        response = client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 409
        detail = response.json()["detail"]
        assert "'ml-25m'" in detail and "'synthetic'" in detail and "restart" in detail
        health = client.get("/health").json()
        assert health["model_version"] == "ml" and health["dataset"] == "synthetic"
        assert health["last_reload"]["result"] == "refused"
