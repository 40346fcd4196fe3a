"""`movierec up`'s process handling: process groups, health waits, optional services, stops.

The first tests run small stand-in services (Python's http.server); the last ones run the
real `movierec up` with the real four services over a synthetic bundle, interrupt it during
start-up or make a service fail, and check that no process of any group survives and that
every port is free.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from movierec.config import Settings
from movierec.system import (
    Service,
    ServiceStartError,
    Supervisor,
    run_system,
    services,
    stop_all,
)
from tests.bundles import build_synthetic_bundle
from tests.conftest import settings_in
from tests.processes import (
    SERVICE_PORTS,
    alive_in_group,
    carrying,
    children,
    movierec_up,
    port_open,
    requires_proc,
)
from tests.servers import REPO_ROOT, free_port

if TYPE_CHECKING:
    from movierec.training.pipeline import PipelineReport

RUN_MARKER = "UP_TEST_RUN"


def test_services_take_their_ports_timeouts_and_a_light_mlflow_ui_from_settings(
    tmp_path: Path,
) -> None:
    settings = settings_in(
        tmp_path,
        tmp_path,
        serving={"port": 9123},
        system={"start_timeout_s": 33, "mlflow_ui_timeout_s": 44},
    )
    by_name = {service.name: service for service in services(settings)}
    assert set(by_name) == {"API", "Frontend", "Dashboard", "MLflow UI", "Retrainer"}
    assert by_name["API"].url.endswith(":9123")
    api_url = by_name["API"].url
    assert by_name["Frontend"].env == {
        "MOVIEREC_API_URL": api_url,
        "MOVIEREC_FRONTEND__PUBLIC_API_URL": api_url,
        "MOVIEREC_FRONTEND__MLFLOW_URL": by_name["MLflow UI"].url,
    }
    required = [by_name[name] for name in ("API", "Frontend", "Dashboard")]
    assert all(s.start_later is None and s.timeout_s == 33 for s in required)

    mlflow = by_name["MLflow UI"]
    assert mlflow.start_later == "make mlflow-ui" and mlflow.timeout_s == 44
    assert mlflow.command[mlflow.command.index("--workers") + 1] == "1"
    assert mlflow.env == {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    retrainer = by_name["Retrainer"]
    assert retrainer.start_later == "movierec retrainer" and retrainer.command[-1] == "retrainer"


def _http_server(port: int, print_variable: str = "HOME") -> list[str]:
    """A child that prints one environment variable, then serves HTTP on `port`."""
    code = (
        "import os, runpy, sys; "
        f"print(os.environ.get({print_variable!r}, 'unset'), flush=True); "
        f"sys.argv = ['http.server', '{port}', '--bind', '127.0.0.1']; "
        "runpy.run_module('http.server', run_name='__main__')"
    )
    return [sys.executable, "-c", code]


def _echo() -> Service:
    port = free_port()
    return Service("Echo", _http_server(port), f"http://127.0.0.1:{port}", "/")


def _sleeper(name: str, timeout_s: float, start_later: str | None = None) -> Service:
    """A service that never answers."""
    command = [sys.executable, "-c", "import time; time.sleep(600)"]
    url = f"http://127.0.0.1:{free_port()}"
    return Service(name, command, url, "/", timeout_s, start_later=start_later)


def test_each_service_runs_in_its_own_process_group_with_its_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    service = Service(
        "Echo",
        _http_server(port, "MOVIEREC_API_URL"),
        f"http://127.0.0.1:{port}",
        "/",
        env={"MOVIEREC_API_URL": "http://api.test:1234"},
    )
    with Supervisor(tmp_path) as supervisor:
        supervisor.start([service])
        supervisor.wait_until_up()
        process = supervisor.running[0].process
        assert httpx.get(service.url, timeout=5).status_code == 200
        assert os.getpgid(process.pid) == process.pid != os.getpgid(0)
    assert process.poll() is not None
    assert "http://api.test:1234" in (tmp_path / "echo.log").read_text()
    line = capsys.readouterr().out
    assert "Echo" in line and service.url in line and "up in" in line


def test_a_required_service_that_dies_at_start_is_a_clear_error_and_stops_the_others(
    tmp_path: Path,
) -> None:
    healthy = _echo()
    dying = Service(
        "Broken",
        [sys.executable, "-c", "import sys; print('address already in use'); sys.exit(3)"],
        f"http://127.0.0.1:{free_port()}",
        "/",
    )
    with pytest.raises(ServiceStartError) as error, Supervisor(tmp_path) as supervisor:
        supervisor.start([healthy, dying])
        supervisor.wait_until_up()
    message = str(error.value)
    assert "Broken exited with code 3" in message
    assert "address already in use" in message and str(tmp_path / "broken.log") in message
    with pytest.raises(httpx.HTTPError):
        httpx.get(healthy.url, timeout=2)


def test_a_required_service_that_does_not_answer_in_time_stops_everything(
    tmp_path: Path,
) -> None:
    healthy, silent = _echo(), _sleeper("Silent", timeout_s=1.0)
    with (
        pytest.raises(ServiceStartError, match=r"Silent did not answer / in 1 s"),
        Supervisor(tmp_path) as supervisor,
    ):
        supervisor.start([healthy, silent])
        supervisor.wait_until_up()
    with pytest.raises(httpx.HTTPError):
        httpx.get(healthy.url, timeout=2)


@requires_proc
def test_an_optional_service_that_does_not_come_up_is_stopped_and_the_rest_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy = _echo()
    silent = _sleeper("Slow UI", timeout_s=1.0, start_later="make slow-ui")
    exiting = Service(
        "Gone UI",
        [sys.executable, "-c", "raise SystemExit(2)"],
        f"http://127.0.0.1:{free_port()}",
        "/",
        start_later="make gone-ui",
    )
    with Supervisor(tmp_path) as supervisor:
        supervisor.start([healthy, silent, exiting])
        supervisor.wait_until_up(optional=True)
        assert [entry.service.name for entry in supervisor.up] == ["Echo"]
        assert httpx.get(healthy.url, timeout=5).status_code == 200
        assert alive_in_group(supervisor.running[1].process.pid) == []
        out = capsys.readouterr().out
        assert "Slow UI did not answer / in 1 s; everything else keeps running" in out
        assert "`make slow-ui`" in out and str(tmp_path / "slow_ui.log") in out
        assert "Gone UI exited with code 2 at start" in out and "`make gone-ui`" in out


def test_the_system_is_up_once_the_required_services_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy, slow = _echo(), _sleeper("Slow UI", timeout_s=60.0, start_later="make slow-ui")
    with Supervisor(tmp_path) as supervisor:
        supervisor.start([healthy, slow])
        supervisor.wait_until_up()
        assert [entry.service.name for entry in supervisor.starting] == ["Slow UI"]
        assert supervisor.starting[0].process.poll() is None


def _group_leader(code: str) -> subprocess.Popen[bytes]:
    """A process in a new session that runs `code`, then prints "ready" and sleeps."""
    process = subprocess.Popen(
        [sys.executable, "-c", f"{code}\nprint('ready', flush=True)\nimport time; time.sleep(600)"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    return process


@requires_proc
def test_stop_all_kills_the_whole_group_after_the_grace_period() -> None:
    spawn_stubborn_child = (
        "import signal, subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])"
    )
    # A leader that ignores SIGTERM, and a leader that obeys but leaves a child behind.
    stubborn = _group_leader(
        f"{spawn_stubborn_child}\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)"
    )
    leaves_a_child = _group_leader(spawn_stubborn_child)
    groups = [stubborn.pid, leaves_a_child.pid]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(len(alive_in_group(g)) < 2 for g in groups):
        time.sleep(0.1)
    assert all(len(alive_in_group(g)) == 2 for g in groups)

    started = time.monotonic()
    # A grace period long enough for the obedient leader to die of SIGTERM on a loaded machine
    # (with 1 s it was once still unscheduled, and SIGKILL came first).
    stop_all([stubborn, leaves_a_child], grace_s=3.0)
    assert 3.0 <= time.monotonic() - started < 15
    assert leaves_a_child.returncode == -signal.SIGTERM
    assert stubborn.returncode == -signal.SIGKILL
    assert all(alive_in_group(g) == [] for g in groups)


def test_ctrl_c_while_an_optional_service_is_being_stopped_stops_the_system(
    tmp_path: Path,
) -> None:
    """An optional service that misses its start timeout is stopped; a Ctrl-C that arrives
    while it is (here: it survives SIGTERM, so the grace period runs) is not lost."""
    told_to_stop = tmp_path / "sigterm"
    survives_sigterm = [
        sys.executable,
        "-c",
        "import signal, time\n"
        f"signal.signal(signal.SIGTERM, lambda *_: open({str(told_to_stop)!r}, 'w').close())\n"
        "time.sleep(600)",
    ]
    slow = Service(
        "Slow UI", survives_sigterm, f"http://127.0.0.1:{free_port()}", "/", 0.5, start_later="x"
    )

    def interrupt_once_told_to_stop() -> None:
        deadline = time.monotonic() + 60
        while not told_to_stop.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupter = threading.Thread(target=interrupt_once_told_to_stop, daemon=True)
    try:
        with Supervisor(tmp_path, grace_s=3.0) as supervisor:
            supervisor.start([slow])
            interrupter.start()
            with pytest.raises(KeyboardInterrupt):
                supervisor.wait_until_up(optional=True)
                supervisor.watch()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert supervisor.running[0].process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interruption_while_training_starts_no_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], signum: signal.Signals
) -> None:
    def interrupted_pipeline(settings: Settings) -> PipelineReport:
        os.kill(os.getpid(), signum)
        time.sleep(10)
        raise AssertionError("the signal did not interrupt training")

    handlers = {signal.SIGINT: signal.getsignal(signal.SIGINT), signum: signal.getsignal(signum)}
    run_system(settings_in(tmp_path, tmp_path), interrupted_pipeline, tmp_path / "logs")
    out = capsys.readouterr().out
    assert "running the offline pipeline" in out
    assert "Interrupted before any service started." in out
    assert not (tmp_path / "logs").exists()
    assert {s: signal.getsignal(s) for s in handlers} == handlers


def test_a_stop_that_lands_inside_exec_of_a_string_still_exits_cleanly() -> None:
    """CPython 3.11 exits with SIGINT after a plain KeyboardInterrupt raised inside `exec` of a
    string, even a caught one; `up` once ended so when Ctrl-C came during a late import."""
    program = (
        "import os, signal\n"
        "from movierec.system import _stop_on_signal\n"
        "signal.signal(signal.SIGINT, _stop_on_signal)\n"
        "try:\n"
        "    exec('os.kill(os.getpid(), signal.SIGINT)\\nfor _ in range(10**7): pass')\n"
        "except KeyboardInterrupt:\n"
        "    print('stopped')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, b"stopped\n"), done.stderr.decode()


# --- the real `movierec up` -------------------------------------------------------------


@pytest.fixture
def up_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a `movierec up` run in `tmp_path`, over a synthetic bundle. Every
    process of the run inherits RUN_MARKER; any left at the end (a failed test) is killed."""
    bundle = build_synthetic_bundle(tmp_path / "models" / "production")
    yield {
        **os.environ,
        RUN_MARKER: str(tmp_path),
        "MOVIEREC_CONFIG_DIR": str(REPO_ROOT / "configs"),
        "MOVIEREC_TRAINING__EXPORT_DIR": str(bundle),
        "MOVIEREC_SERVING__MODEL_DIR": str(bundle),
        "MOVIEREC_SERVING__LOG_DB": str(tmp_path / "requests.db"),
        "MOVIEREC_MONITORING__LOG_DB": str(tmp_path / "requests.db"),
        "MOVIEREC_TRAINING__MLFLOW__TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "MOVIEREC_TRAINING__MLFLOW__ARTIFACT_LOCATION": str(tmp_path / "mlartifacts"),
        **{variable: str(free_port()) for variable in SERVICE_PORTS},
    }
    for pid in carrying(RUN_MARKER, str(tmp_path)):
        os.kill(pid, signal.SIGKILL)


def _groups_seen(process: subprocess.Popen[bytes], count: int, timeout_s: float) -> set[int]:
    """The process groups of `process`'s children, once `count` of them were seen (or it ended).

    Each service leads its own group, so a child's pid is its group id.
    """
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while len(seen) < count and process.poll() is None and time.monotonic() < deadline:
        seen.update(children(process.pid))
        time.sleep(0.05)
    return seen


def _assert_nothing_left(tmp_path: Path, groups: set[int], ports: list[int]) -> None:
    assert groups, "no service was started"
    survivors = {group: alive for group in groups if (alive := alive_in_group(group))}
    assert survivors == {}
    assert carrying(RUN_MARKER, str(tmp_path)) == []
    assert [port for port in ports if port_open(port)] == []


@requires_proc
@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.parametrize("started", [1, 4], ids=["first-service-started", "all-started"])
def test_ctrl_c_during_start_up_leaves_no_process_and_no_port(
    tmp_path: Path, up_env: dict[str, str], started: int
) -> None:
    with movierec_up(tmp_path, up_env) as process:
        groups = _groups_seen(process, started, timeout_s=120)
        assert len(groups) >= started, (tmp_path / "up.log").read_text()
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGINT)  # `uv run` and a terminal each deliver one
        try:
            code = process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail(f"up did not stop in 90 s:\n{(tmp_path / 'up.log').read_text()}")
        assert code == 0
    output = (tmp_path / "up.log").read_text()
    assert "is up" not in output, "the system was up before the interruption"
    assert "All services stopped." in output and "Traceback" not in output
    _assert_nothing_left(tmp_path, groups, [int(up_env[variable]) for variable in SERVICE_PORTS])


@requires_proc
@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_a_service_that_cannot_start_stops_every_other_one(
    tmp_path: Path, up_env: dict[str, str]
) -> None:
    ports = {name: int(up_env[variable]) for variable, name in SERVICE_PORTS.items()}
    with socket.socket() as taken, movierec_up(tmp_path, up_env) as process:
        taken.bind(("127.0.0.1", ports["Dashboard"]))
        taken.listen()
        groups = _groups_seen(process, 4, timeout_s=120)
        assert process.wait(timeout=240) == 1
    output = (tmp_path / "up.log").read_text()
    assert "error: Dashboard exited with code 1 at start (is its port taken?)" in output
    assert "is not available" in output and "Traceback" not in output
    others = [port for name, port in ports.items() if name != "Dashboard"]
    _assert_nothing_left(tmp_path, groups, others)
