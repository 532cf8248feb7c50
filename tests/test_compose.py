"""docker-compose.yml: valid Compose, and in step with the code it runs.

No Docker engine is needed. ``docker compose config`` (the plugin) or, where
the plugin is missing, Debian's ``docker-compose`` 1.29 validates the file
offline; both reject unknown keys. The structural tests read the YAML.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumers.catalog import JOB_NAMES
from tests.services import POSTGRES_IMAGE, REDPANDA_IMAGE

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

APP_IMAGE = "streamjobs:local"
"""The image docker-compose.yml builds from ./Dockerfile for every streamjobs service."""

INSTALL_HINT = (
    "no Compose implementation found to validate docker-compose.yml: neither "
    "`docker compose version` nor `docker-compose` works. Install the plugin "
    "(https://docs.docker.com/compose/install/) or Debian's package "
    "(`apt-get install -y docker-compose`, which .ci/run does)."
)

Service = dict[str, Any]


def compose_command() -> list[str]:
    """The Compose CLI to run: the plugin when it works, else docker-compose 1.29."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.fail(INSTALL_HINT)
    return [legacy]


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    """The services of docker-compose.yml, YAML anchors and merge keys resolved."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    found = document["services"]
    assert isinstance(found, dict)
    return found


def app_services(services: dict[str, Service]) -> dict[str, Service]:
    """Services that run the streamjobs image (init, consumers, scheduler)."""
    return {name: spec for name, spec in services.items() if spec.get("image") == APP_IMAGE}


def test_compose_validates_the_file() -> None:
    command = [*compose_command(), "--file", str(COMPOSE_FILE), "config", "--quiet"]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}"


def test_infrastructure_uses_the_images_the_tests_use(services: dict[str, Service]) -> None:
    assert services["redpanda"]["image"] == REDPANDA_IMAGE
    assert services["postgres"]["image"] == POSTGRES_IMAGE
    assert services["console"]["image"].startswith("docker.redpanda.com/redpandadata/console:v")
    assert "dev-container" in " ".join(services["redpanda"]["command"])
    for name in ("redpanda", "postgres"):
        assert "test" in services[name]["healthcheck"], f"{name} needs a healthcheck"


def test_one_consumer_service_per_job_in_the_catalog(services: dict[str, Service]) -> None:
    consumers = {name for name in services if name.startswith("consumer-")}
    assert consumers == {f"consumer-{job}" for job in JOB_NAMES}
    for job in JOB_NAMES:
        assert services[f"consumer-{job}"]["command"] == ["consume", job]


def test_scheduler_service_exactly_when_the_scheduler_exists(
    services: dict[str, Service],
) -> None:
    exists = importlib.util.find_spec("scheduler") is not None
    assert ("scheduler" in services) == exists
    if exists:
        assert services["scheduler"]["command"] == ["scheduler"]


def test_app_services_can_scale(services: dict[str, Service]) -> None:
    # A fixed container name or host port would make `--scale name=3` fail.
    for name, spec in app_services(services).items():
        assert "container_name" not in spec, name
        assert "ports" not in spec or name == "scheduler", name


def test_the_scheduler_publishes_its_trigger_on_the_hosts_loopback_only(
    services: dict[str, Service],
) -> None:
    assert services["scheduler"]["ports"] == ["127.0.0.1:8000:8000"]
    assert services["scheduler"]["environment"]["SCHEDULER_HTTP_HOST"] == "0.0.0.0"


def test_init_creates_topics_and_migrates_once_infrastructure_is_healthy(
    services: dict[str, Service],
) -> None:
    init = services["init"]
    script = [line.strip() for line in "\n".join(init["command"]).splitlines() if line.strip()]
    assert script == ["streamjobs topics create", "streamjobs db upgrade"]
    assert init["entrypoint"] == ["/bin/sh", "-ec"], "a failing step must fail init"
    assert init["restart"] == "no"
    assert init["depends_on"] == {
        "redpanda": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }


def test_other_app_services_start_after_init_completed(services: dict[str, Service]) -> None:
    others = {name: spec for name, spec in app_services(services).items() if name != "init"}
    assert others, "no consumer service"
    for name, spec in others.items():
        assert spec["depends_on"] == {"init": {"condition": "service_completed_successfully"}}, name


def test_app_services_share_one_environment(services: dict[str, Service]) -> None:
    environments = [spec["environment"] for spec in app_services(services).values()]
    assert all(env == environments[0] for env in environments)
    env = environments[0]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "redpanda:9092"
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    for secret in ("SENTRY_DSN", "CRON_SECRET"):
        assert env[secret] == f"${{{secret}:-}}", "secrets come from the host, empty if unset"


def test_dockerfile_runs_the_cli_as_an_unprivileged_user() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    assert "FROM python:3.11-slim" in lines
    assert 'ENTRYPOINT ["streamjobs"]' in lines
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users, "the image must not run as root"
    assert users[-1] not in ("root", "0")
