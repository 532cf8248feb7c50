"""The real command line against dead services, refusing services and bad arguments.

Each failure ends with exit status 1 (a service) or 2 (usage, configuration)
and exactly one line on stderr that names the cause and never a secret.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, make_url

from schemas import headers
from schemas.headers import HeaderList
from schemas.topics import WEBHOOK_SEND, TopicSet
from streamjobs.kafka import create_topics, topic_set
from streamjobs.settings import Settings
from tests.kafka_support import produce, read_topic
from tests.streamjobs.cli.support import streamjobs

PASSWORD = "hunter2-secret"
"""A password that must never be printed."""

WEBHOOK = '{"webhook_id": "6f1c1a52-3c39-4a0e-9d9b-2f1c8f0f6c11", "event_type": "a", "payload": {}}'


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A port bound but not listening: every connection to it is refused at once."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


def one_line(done: subprocess.CompletedProcess[str], status: int) -> str:
    """The single stderr line of a command that had to exit with ``status``."""
    assert done.returncode == status, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.removeprefix("streamjobs: error: ").strip()


@pytest.mark.parametrize(
    "args",
    [
        ["produce", "webhook.send", WEBHOOK],
        ["topics", "create"],
        ["dlq", "list", "webhook.send"],
        ["dlq", "replay", "webhook.send"],
    ],
)
def test_an_unreachable_broker_fails_after_the_connect_timeout_naming_the_brokers(
    settings: Settings, dead_port: int, args: list[str]
) -> None:
    brokers = f"127.0.0.1:{dead_port}"
    done = streamjobs(settings, *args, KAFKA_BOOTSTRAP_SERVERS=brokers, KAFKA_CONNECT_TIMEOUT="1s")
    assert one_line(done, 1).startswith(f"Kafka at {brokers}: no broker answered within 1s")


@pytest.mark.parametrize(
    "args",
    [
        ["webhooks", "list"],
        ["webhooks", "add", "https://example.com/hook"],
        ["webhooks", "disable", "6f1c1a52-3c39-4a0e-9d9b-2f1c8f0f6c11"],
        ["db", "upgrade"],
        ["db", "current"],
    ],
)
def test_an_unreachable_database_fails_naming_its_address_and_never_the_password(
    settings: Settings, dead_port: int, args: list[str]
) -> None:
    url = f"postgresql://streamjobs:{PASSWORD}@127.0.0.1:{dead_port}/streamjobs"
    done = streamjobs(settings, *args, DATABASE_URL=url)
    line = one_line(done, 1)
    assert line == f"PostgreSQL at 127.0.0.1:{dead_port}/streamjobs: Connection refused"


def test_a_refused_login_names_the_database_and_hides_a_password_given_in_the_query(
    settings: Settings,
) -> None:
    real = make_url(settings.sqlalchemy_url)
    url = f"postgresql://{real.username}@{real.host}:{real.port}/{real.database}"
    done = streamjobs(settings, "webhooks", "list", DATABASE_URL=f"{url}?password={PASSWORD}")
    line = one_line(done, 1)
    assert line.startswith(f"PostgreSQL at {real.host}:{real.port}/{real.database}: ")
    assert "password authentication failed" in line
    assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        f"mysql://app:{PASSWORD}@127.0.0.1/db",
        f"postgresql://app:{PASSWORD}@127.0.0.1:99999/db",
    ],
)
def test_a_malformed_database_url_exits_2_without_repeating_it(
    settings: Settings, url: str
) -> None:
    for args in (["webhooks", "list"], ["topics", "create"]):
        line = one_line(streamjobs(settings, *args, DATABASE_URL=url), 2)
        assert line.startswith("DATABASE_URL: ")
        assert PASSWORD not in line


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WEBHOOK_TIMEOUT", "0s", "WEBHOOK_TIMEOUT: must be at least 100ms"),
        ("KAFKA_SESSION_TIMEOUT", "9999h", "KAFKA_SESSION_TIMEOUT: must be at most 30m"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: Input should be 'json' or 'text'"),
    ],
)
def test_a_setting_out_of_range_stops_any_command_with_one_line(
    settings: Settings, variable: str, value: str, message: str
) -> None:
    for args in (["config"], ["webhooks", "list"], ["consume", "webhook"]):
        assert one_line(streamjobs(settings, *args, **{variable: value}), 2) == message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://exa\u0007mple.com/hook", "white space or control characters"),
        ("https://example.com/ho\nok", "white space or control characters"),
        ("https://" + "a" * 10_000 + ".example/", "longer than 2048 characters"),
        ("https://" + ".".join(["a" * 60] * 5) + "/", "neither a valid host name"),
        ("http://2130706433/", "neither a valid host name"),
        ("http://127.1/", "neither a valid host name"),
        ("https://exa_mple.com/", "neither a valid host name"),
        ("https:///hook", "needs a host"),
        ("javascript://example.com/", "must start with http:// or https://"),
    ],
)
def test_webhooks_add_refuses_a_url_that_is_not_a_plain_http_url_and_registers_nothing(
    db: Engine, settings: Settings, url: str, reason: str
) -> None:
    assert reason in one_line(streamjobs(settings, "webhooks", "add", url), 2)
    listed = streamjobs(settings, "webhooks", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_an_unknown_webhook_is_a_refused_operation(db: Engine, settings: Settings) -> None:
    done = streamjobs(settings, "webhooks", "disable", "00000000-0000-0000-0000-000000000000")
    assert one_line(done, 1) == "no webhook with id 00000000-0000-0000-0000-000000000000"


def test_a_bad_migration_revision_is_a_usage_error(db: Engine, settings: Settings) -> None:
    # Alembic logs its set-up at INFO before it looks the revision up.
    done = streamjobs(settings, "db", "upgrade", "nope", LOG_LEVEL="WARNING")
    assert one_line(done, 2) == "revision: Can't locate revision identified by 'nope'"


@pytest.fixture
def webhook_topics(settings: Settings) -> TopicSet:
    """The registry's ``webhook.send`` topics under the test's prefix."""
    topics = topic_set(settings, WEBHOOK_SEND)
    create_topics(settings, [topics])
    return topics


def test_options_may_come_between_the_topic_and_the_event(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    done = streamjobs(settings, "produce", "webhook.send", "--event-id", "evt-7", WEBHOOK)
    assert done.returncode == 0, done.stderr
    (record,) = read_topic(settings, webhook_topics.main, count=1)
    assert record.headers == {headers.EVENT_ID: "evt-7"}


def test_an_event_over_max_event_bytes_is_a_usage_error_naming_its_size(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    event = json.loads(WEBHOOK) | {"payload": {"blob": "x" * 300_000}}
    done = streamjobs(settings, "produce", "webhook.send", stdin=json.dumps(event))
    assert "over MAX_EVENT_BYTES (262,144)" in one_line(done, 2)


def test_an_event_the_broker_refuses_as_too_large_fails_in_one_line(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    # Allowed by MAX_EVENT_BYTES and the producer's own limit (2 x
    # MAX_MESSAGE_BYTES), refused by the broker's (1 MiB by default).
    event = json.loads(WEBHOOK) | {"payload": {"blob": "x" * 1_500_000}}
    done = streamjobs(
        settings, "produce", "webhook.send", stdin=json.dumps(event), MAX_EVENT_BYTES="4000000"
    )
    line = one_line(done, 1)
    assert line.startswith(f"publishing to {webhook_topics.main} failed: ")
    assert "too large" in line.lower()


def test_dead_letters_with_malformed_headers_are_listed_and_replayed(
    settings: Settings, webhook_topics: TopicSet
) -> None:
    poison: list[HeaderList] = [
        [(headers.PRIOR_ATTEMPTS, "²".encode()), (headers.ATTEMPT, b"3")],
        [(headers.ATTEMPT, b"9" * 5000), (headers.LAST_FAILURE_AT, b"\xff\xfe")],
        [(headers.EVENT_ID, b"\xffid"), (headers.ERROR_MESSAGE, b"\x00\r\n")],
    ]
    for index, header_list in enumerate(poison):
        produce(settings, webhook_topics.dlq, [b'{"n": %d}' % index], headers=header_list)
    listed = streamjobs(settings, "dlq", "list", "webhook.send")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[-1].startswith("listed 3 of 3 dead letters")
    replayed = streamjobs(settings, "dlq", "replay", "webhook.send")
    assert replayed.returncode == 0, replayed.stderr
    records = read_topic(settings, webhook_topics.main, count=3)
    assert sorted(record.headers[headers.PRIOR_ATTEMPTS] for record in records) == ["0", "0", "3"]
