"""`movierec up`'s process handling: environment, health waits, clear start failures."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from movierec.system import Service, ServiceStartError, services, start_all, stop_all
from tests.conftest import settings_in
from tests.servers import free_port


def test_the_frontend_is_pointed_at_the_configured_api_and_mlflow_ui(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, tmp_path, serving={"port": 9123})
    by_name = {service.name: service for service in services(settings)}
    assert by_name["API"].url.endswith(":9123")
    assert by_name["Frontend"].env == {
        "MOVIEREC_API_URL": by_name["API"].url,
        "MOVIEREC_FRONTEND__MLFLOW_URL": by_name["MLflow UI"].url,
    }
    assert set(by_name) == {"API", "Frontend", "Dashboard", "MLflow UI"}


def _http_server(port: int, print_variable: str) -> list[str]:
    """A child that prints one environment variable, then serves HTTP on `port`."""
    code = (
        "import os, runpy, sys; "
        f"print(os.environ.get({print_variable!r}, 'unset'), flush=True); "
        f"sys.argv = ['http.server', '{port}', '--bind', '127.0.0.1']; "
        "runpy.run_module('http.server', run_name='__main__')"
    )
    return [sys.executable, "-c", code]


def test_services_start_with_their_environment_and_stop(tmp_path: Path) -> None:
    port = free_port()
    service = Service(
        "Echo",
        _http_server(port, "MOVIEREC_API_URL"),
        f"http://127.0.0.1:{port}",
        "/",
        env={"MOVIEREC_API_URL": "http://api.test:1234"},
    )
    processes = start_all([service], tmp_path, timeout_s=30)
    try:
        assert httpx.get(service.url, timeout=5).status_code == 200
    finally:
        stop_all(processes)
    assert all(process.poll() is not None for process in processes)
    assert "http://api.test:1234" in (tmp_path / "echo.log").read_text()


def test_a_service_that_dies_at_start_is_a_clear_error_and_stops_the_others(
    tmp_path: Path,
) -> None:
    port = free_port()
    healthy = Service("Echo", _http_server(port, "HOME"), f"http://127.0.0.1:{port}", "/")
    dying = Service(
        "Broken",
        [sys.executable, "-c", "import sys; print('address already in use'); sys.exit(3)"],
        f"http://127.0.0.1:{free_port()}",
        "/",
    )
    with pytest.raises(ServiceStartError) as error:
        start_all([healthy, dying], tmp_path, timeout_s=30)
    message = str(error.value)
    assert "Broken exited with code 3" in message
    assert "address already in use" in message and str(tmp_path / "broken.log") in message
    with pytest.raises(httpx.HTTPError):
        httpx.get(healthy.url, timeout=2)
