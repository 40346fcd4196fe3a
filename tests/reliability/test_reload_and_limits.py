"""One real server (`movierec serve`, limits from serving.limits) under attack and change:
reloads under load, of a good bundle and of every kind of bad one, fail no request; idle,
slow and oversized connections are closed while /health keeps answering."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from movierec import artifacts as art
from tests.bundles import build_synthetic_bundle
from tests.reliability.bundles import BAD_BUNDLES, copy_release, switch
from tests.reliability.conftest import AUTH, Load, Server, serving

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT_S = 1.0
MAX_HEADER_BYTES = 8192
LIMITS = {
    "MOVIEREC_SERVING__LIMITS__HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
    "MOVIEREC_SERVING__LIMITS__MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
}


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("releases")
    for seed, version in enumerate(("v1", "v2", "v3")):
        art.seal(build_synthetic_bundle(root / version, seed=seed, version=version))
    return root


@pytest.fixture(scope="module")
def server(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    production = releases / "production"
    production.symlink_to(releases / "v1")
    log_db = tmp_path_factory.mktemp("log") / "requests.db"
    with serving(production, log_db, LIMITS) as running:
        yield running


def copy_of(releases: Path, name: str) -> Path:
    return copy_release(releases / "v1", releases / name)


def test_reloads_under_load_of_good_and_bad_bundles_fail_no_request(
    server: Server, releases: Path
) -> None:
    for name, (damage, _) in BAD_BUNDLES.items():
        damage(copy_of(releases, name))
    with Load(server.url) as load, httpx.Client(base_url=server.url, timeout=30) as admin:
        switch(releases, "v2")
        answer = admin.post("/admin/reload", headers=AUTH)
        assert answer.status_code == 200 and answer.json()["model_version"] == "v2"
        for name, (_, problem) in BAD_BUNDLES.items():
            switch(releases, name)
            answer = admin.post("/admin/reload", headers=AUTH)
            assert answer.status_code == 409, (name, answer.text)
            assert problem in answer.json()["detail"] and "Still serving v2" in answer.text
            health = admin.get("/health").json()
            assert health["model_version"] == "v2", name
            assert health["last_reload"]["result"] == "refused", name
        switch(releases, "v3")
        assert admin.post("/admin/reload", headers=AUTH).json()["model_version"] == "v3"
        deadline = time.monotonic() + 10
        while "v3" not in load.versions and time.monotonic() < deadline:
            time.sleep(0.05)
    assert load.errors == [] and set(load.statuses) == {200}, (load.statuses, load.errors[:5])
    assert load.versions == {"v1", "v2", "v3"}
    assert load.total > 100


def closed_by_server(sock: socket.socket, deadline: float) -> bytes | None:
    """What the server sent before closing `sock`, or None if it is still open at `deadline`
    (a `time.monotonic()` instant)."""
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


def test_idle_slow_and_oversized_connections_are_closed_while_health_answers(
    server: Server,
) -> None:
    address = ("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    idle = [socket.create_connection(address) for _ in range(200)]
    slow = [socket.create_connection(address) for _ in range(20)]
    big = [socket.create_connection(address) for _ in range(4)]
    for sock in slow:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    for sock in big:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 64 * 1024)
    stop = threading.Event()

    def drip() -> None:  # slowloris: a header byte now and then, never the end
        while not stop.wait(0.2):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b"a")

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    probes: list[tuple[int, float]] = []
    try:
        started = time.monotonic()
        while time.monotonic() - started < 3 * HEADER_TIMEOUT_S:
            begun = time.monotonic()
            status = httpx.get(f"{server.url}/health", timeout=5).status_code
            probes.append((status, time.monotonic() - begun))
            time.sleep(0.1)
        deadline = time.monotonic() + 2 * HEADER_TIMEOUT_S
        idle_left = [closed_by_server(sock, deadline) for sock in idle]
        slow_left = [closed_by_server(sock, deadline) for sock in slow]
        big_left = [closed_by_server(sock, deadline) for sock in big]
    finally:
        stop.set()
        dripper.join()
        for sock in idle + slow + big:
            sock.close()
    assert probes and all(status == 200 for status, _ in probes), probes
    assert max(seconds for _, seconds in probes) < 2.0, probes
    assert all(sent is not None for sent in idle_left + slow_left), "a connection stayed open"
    assert all(sent == b"" for sent in idle_left)
    assert all(sent is not None and sent.startswith(b"HTTP/1.1 431") for sent in big_left)
    assert httpx.get(f"{server.url}/health", headers={"X-Pad": "a" * 10_000}).status_code == 431
