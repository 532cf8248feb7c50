"""docker-compose.yml: valid Compose, and in step with the code it runs.

Neither Docker nor a Compose CLI is needed: the file is validated against a
JSON Schema kept in ``tests/data/`` (a subset written after the Compose
Specification's schema; its ``$comment`` says where from), which refuses
unknown keys as Compose does. The structural tests read the YAML.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from consumers.catalog import JOB_NAMES
from tests.services import POSTGRES_IMAGE, REDPANDA_IMAGE

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose-subset.schema.json"

APP_IMAGE = "streamjobs:local"
"""The image docker-compose.yml builds from ./Dockerfile for every streamjobs service."""

Service = dict[str, Any]


def compose_errors(document: object) -> list[str]:
    """Where ``document`` breaks the Compose schema, one line per error (none: valid)."""
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """docker-compose.yml as data, YAML anchors and merge keys resolved."""
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(document: dict[str, Any]) -> dict[str, Service]:
    """The services of docker-compose.yml."""
    found = document["services"]
    assert isinstance(found, dict)
    return found


def app_services(services: dict[str, Service]) -> dict[str, Service]:
    """Services that run the streamjobs image (init, consumers, scheduler)."""
    return {name: spec for name, spec in services.items() if spec.get("image") == APP_IMAGE}


def test_the_compose_file_follows_the_compose_schema(document: dict[str, Any]) -> None:
    assert compose_errors(document) == []


def test_the_schema_is_valid_draft_7() -> None:
    jsonschema.Draft7Validator.check_schema(json.loads(COMPOSE_SCHEMA.read_text()))


@pytest.mark.parametrize(
    ("service_change", "error"),
    [
        ({"imagee": "typo"}, "'imagee' does not match any of the regexes"),
        ({"depends_on": {"init": {"condition": "done"}}}, "depends_on"),
        ({"command": {"not": "a command"}}, "command"),
        ({"x-note": "extensions are allowed"}, None),
    ],
)
def test_the_schema_refuses_what_compose_refuses(
    document: dict[str, Any], service_change: dict[str, Any], error: str | None
) -> None:
    changed = copy.deepcopy(document)
    changed["services"]["consumer-webhook"] |= service_change
    errors = compose_errors(changed)
    if error is None:
        assert errors == []
    else:
        assert errors and error in errors[0], errors


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
        assert "ports" not in spec or name in ("scheduler", "web"), name


def test_the_scheduler_publishes_its_trigger_on_the_hosts_loopback_only(
    services: dict[str, Service],
) -> None:
    assert services["scheduler"]["ports"] == ["127.0.0.1:8000:8000"]
    assert services["scheduler"]["environment"]["SCHEDULER_HTTP_HOST"] == "0.0.0.0"


def test_the_web_view_is_published_on_the_hosts_loopback_and_needs_its_token(
    services: dict[str, Service],
) -> None:
    assert services["web"]["command"] == ["web"]
    assert services["web"]["ports"] == ["127.0.0.1:8288:8288"]
    assert services["web"]["environment"]["WEB_HOST"] == "0.0.0.0"


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
    for secret in ("SENTRY_DSN", "CRON_SECRET", "DASHBOARD_TOKEN"):
        assert env[secret] == f"${{{secret}:-}}", "secrets come from the host, empty if unset"


def test_dockerfile_runs_the_cli_as_an_unprivileged_user() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    assert "FROM python:3.11-slim" in lines
    assert 'ENTRYPOINT ["streamjobs"]' in lines
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users, "the image must not run as root"
    assert users[-1] not in ("root", "0")
