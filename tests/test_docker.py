"""The Docker files, checked without a Docker engine.

hadolint lints the Dockerfile and Compose validates docker-compose.yml (`docker compose config`,
or the standalone `docker-compose`); the tests below read the compose file as YAML and check its
wiring with the settings each container gets (health checks, start order, shared volumes, one
image, a small MLflow server), and run its shell snippets with `sh` as a container would.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from movierec.artifacts import MODEL_METADATA
from movierec.config import Settings, load_settings
from tests.conftest import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def with_defaults(value: str) -> str:
    """A compose value as interpolated with no variable set: `${X:-d}` is d, `$$` is `$`."""
    return DEFAULTED.sub(r"\2", value).replace("$$", "$")


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def workdir() -> PurePosixPath:
    """The final stage's WORKDIR, against which the container's relative paths resolve."""
    return PurePosixPath(re.findall(r"^WORKDIR (\S+)", DOCKERFILE.read_text(), re.M)[-1])


def mounts(service: str) -> dict[str, str]:
    """target -> source (a named volume or a host path) of the service's volumes."""
    pairs = (with_defaults(entry).split(":")[:2] for entry in services()[service]["volumes"])
    return {target: source for source, target in pairs}


def seconds(duration: str) -> int:
    """A compose duration such as '90s' or '1m30s', in seconds."""
    unit = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * unit[u] for n, u in re.findall(r"(\d+)([smh])", duration))


def container_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the service's container reads: the repository's configs and its environment."""
    for name in list(os.environ):
        if name.startswith(("MOVIEREC_", "MOVIELENS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(REPO_ROOT / "configs"))
    for name, value in services()[service].get("environment", {}).items():
        monkeypatch.setenv(name, with_defaults(str(value)))
    return load_settings()


def in_container(path: Path | str) -> PurePosixPath:
    return workdir() / PurePosixPath(path)


def under(path: PurePosixPath, service: str) -> str:
    """The volume of `service` that holds `path`; fails when no mount does."""
    holding = [source for target, source in mounts(service).items() if path.is_relative_to(target)]
    assert holding, f"{path} is on no volume of {service}"
    return holding[0]


def compose_cli() -> list[str] | None:
    """`docker compose` when the plugin is installed, else `docker-compose`, else None."""
    docker = shutil.which("docker")
    if docker:
        plugin = subprocess.run([docker, "compose", "version"], capture_output=True)
        if plugin.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_dockerfile_passes_hadolint() -> None:
    # The environment's own bin first: pytest may run without the venv on PATH.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    hadolint = shutil.which("hadolint", path=search)
    if hadolint is None:
        pytest.skip("hadolint is not installed (it is a dev dependency: `make setup`)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("mirrored", [False, True], ids=["no-mirror", "host-mirror"])
def test_compose_validates_and_mounts_the_mirror(mirrored: bool, tmp_path: Path) -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {k: v for k, v in os.environ.items() if k != "MOVIELENS_MIRROR_DIR"}
    if mirrored:
        env["MOVIELENS_MIRROR_DIR"] = str(tmp_path)
    run = [*cli, "-f", str(COMPOSE_FILE), "config"]
    checked = subprocess.run([*run, "-q"], capture_output=True, text=True, env=env)
    assert checked.returncode == 0, checked.stderr
    resolved = yaml.safe_load(subprocess.run(run, capture_output=True, env=env, check=True).stdout)
    sources = {}
    for volume in resolved["services"]["trainer"]["volumes"]:
        if isinstance(volume, str):  # docker-compose 1.x prints the short form
            source, target, *_ = volume.split(":")
        else:
            source, target = volume["source"], volume["target"]
        sources[target] = source
    assert sources["/mirror"] == (str(tmp_path) if mirrored else "movielens-mirror")


def test_every_health_check_has_a_start_period() -> None:
    for name, service in services().items():
        check = service.get("healthcheck", {})
        if name == "trainer":  # a one-shot job: its exit code is its state
            assert check == {"disable": True}
            continue
        assert check.get("test"), f"{name} has no health check"
        assert seconds(check["start_period"]) >= 60, name
        assert check["retries"] >= 5, name
    # They start beside the trainer and wait for its model: a first training fits their start.
    for name in ("api", "mlflow"):
        assert seconds(services()[name]["healthcheck"]["start_period"]) >= 300, name


def test_every_dependency_names_a_condition_and_leads_to_the_trainer() -> None:
    for name, service in services().items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert spec["condition"] in CONDITIONS, (name, dependency)
            if spec["condition"] == "service_healthy":
                assert services()[dependency].get("healthcheck", {}).get("test"), dependency

    def reaches_trainer(name: str) -> bool:
        dependencies = services()[name].get("depends_on", {})
        return name == "trainer" or any(map(reaches_trainer, dependencies))

    # So `docker compose up api` (or any one service) builds the image the trainer builds.
    assert all(map(reaches_trainer, services()))


def test_one_image_built_once() -> None:
    builders = [name for name, service in services().items() if "build" in service]
    assert builders == ["trainer"]
    assert {service["image"] for service in services().values()} == {"movie-recommender:latest"}
    # No registry holds this image: the others must not try to pull it before it is built.
    assert all(service["pull_policy"] == "never" for service in services().values())


def test_trainer_writes_the_volumes_the_api_and_mlflow_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trainer = container_settings("trainer", monkeypatch)
    api = container_settings("api", monkeypatch)
    dashboard = container_settings("dashboard", monkeypatch)
    exported = in_container(trainer.training.export_dir)
    assert in_container(api.serving.model_dir) == exported
    assert under(exported, "trainer") == under(exported, "api")
    log_db = in_container(api.serving.log_db)
    assert in_container(dashboard.monitoring.log_db) == log_db
    assert under(log_db, "api") == under(log_db, "dashboard")

    tracking_uri = trainer.training.mlflow.tracking_uri
    store = PurePosixPath(tracking_uri.removeprefix("sqlite:///"))
    command = services()["mlflow"]["command"]
    assert command[command.index("--backend-store-uri") + 1] == tracking_uri
    assert under(store, "trainer") == under(store, "mlflow")
    artifacts = PurePosixPath(trainer.training.mlflow.artifact_location)
    assert command[command.index("--default-artifact-root") + 1] == str(artifacts)
    assert under(artifacts, "trainer") == under(artifacts, "mlflow")

    # The API and MLflow wait for the very file the trainer's export writes.
    for name in ("api", "mlflow"):
        script = with_defaults(services()[name]["command"][2])
        assert f"[ -f {exported / MODEL_METADATA} ]" in script, name


def test_mlflow_runs_one_worker_and_no_job_runner() -> None:
    mlflow = services()["mlflow"]
    command = mlflow["command"]
    server = command.index("server")
    assert command[server - 1] == "mlflow"
    assert command[command.index("--workers", server) + 1] == "1"
    # MLflow's own switch for the job runner (mlflow.environment_variables).
    assert mlflow["environment"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_frontend_links_point_at_the_published_api(monkeypatch: pytest.MonkeyPatch) -> None:
    frontend = container_settings("frontend", monkeypatch).frontend
    assert frontend.api_url == "http://api:8000"  # the compose network's name for the API
    published = {port.split(":")[-2] for port in services()["api"]["ports"]}
    assert frontend.public_api_url == "http://localhost:8000"
    assert frontend.public_api_url.rsplit(":", 1)[1] in published


def test_ports_are_published_on_the_hosts_loopback_only_by_default() -> None:
    published = [
        with_defaults(port) for service in services().values() for port in service.get("ports", [])
    ]
    assert len(published) == 5  # API, frontend, dashboard, MLflow UI, retrainer
    assert all(port.startswith("127.0.0.1:") for port in published), published


def shell_snippet(service: str, old: str, new: str) -> str:
    """The `sh -c` script of a service as the container runs it, with path `old` moved to `new`."""
    command = services()[service]["command"]
    assert command[:2] == ["sh", "-c"]
    script = command[2]
    assert "$" not in script.replace("$$", ""), "a single $ would be read by compose, not sh"
    return with_defaults(script).replace(old, new)


def test_services_wait_for_the_model_and_say_so(tmp_path: Path) -> None:
    script = shell_snippet("api", "/app/models/production", str(tmp_path))
    waiting = subprocess.Popen(
        ["sh", "-c", script, "api", "echo", "served"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert waiting.stdout is not None
        line = waiting.stdout.readline()
    finally:
        os.killpg(waiting.pid, signal.SIGKILL)
        waiting.wait()
    assert line.startswith(f"api: waiting for the trainer to export a model to {tmp_path} ")
    assert "docker compose logs trainer" in line

    (tmp_path / MODEL_METADATA).write_text("{}")
    ready = subprocess.run(
        ["sh", "-c", script, "api", "echo", "served"], capture_output=True, text=True, timeout=10
    )
    assert ready.stdout == "served\n"


@pytest.mark.parametrize("mirrored", [False, True], ids=["empty-mirror", "filled-mirror"])
def test_trainer_reads_a_mounted_mirror(mirrored: bool, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    if mirrored:
        (mirror / "ml-100k.zip").write_bytes(b"")
    script = shell_snippet("trainer", "/mirror", str(mirror))
    tail = "exec movierec pipeline --if-missing"
    assert script.endswith(tail)
    probe = script.removesuffix(tail) + 'echo "base url: $MOVIELENS_BASE_URL"'
    env = {**os.environ, "MOVIELENS_BASE_URL": "https://mirror.example/movielens"}
    shown = subprocess.run(["sh", "-c", probe], capture_output=True, text=True, env=env).stdout
    expected = str(mirror) if mirrored else "https://mirror.example/movielens"
    assert shown.splitlines()[-1] == f"base url: {expected}"
