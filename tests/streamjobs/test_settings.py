"""Settings describe themselves and refuse values outside sane ranges."""

from __future__ import annotations

import annotated_types
import pytest

from streamjobs.errors import ConfigError
from streamjobs.settings import Settings, format_duration, is_duration, load_settings


def test_every_setting_has_a_one_line_description() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert "\n" not in field.description, name


def test_every_number_and_duration_has_a_lower_and_an_upper_bound() -> None:
    numeric = [
        (name, field)
        for name, field in Settings.model_fields.items()
        if field.annotation in (int, float, int | None, float | None)
    ]
    assert len(numeric) > 10
    for name, field in numeric:
        kinds = {type(rule) for rule in field.metadata}
        assert kinds & {annotated_types.Ge, annotated_types.Gt}, f"{name} has no lower bound"
        assert kinds & {annotated_types.Le, annotated_types.Lt}, f"{name} has no upper bound"


@pytest.mark.parametrize(
    ("variable", "text", "message"),
    [
        ("webhook_timeout", "0s", "WEBHOOK_TIMEOUT: must be at least 100ms"),
        ("kafka_session_timeout", "9999h", "KAFKA_SESSION_TIMEOUT: must be at most 30m"),
        ("kafka_topic_partitions", "0", "KAFKA_TOPIC_PARTITIONS: must be at least 1"),
        ("kafka_replication_factor", "0", "KAFKA_REPLICATION_FACTOR: must be -1"),
        ("retry_delays", "30s,9999h", "RETRY_DELAYS: each delay must be between 0s and 168h"),
        ("retry_delays", ",".join(["1s"] * 11), "RETRY_DELAYS: at most 10 tiers"),
        ("consumer_concurrency", "0", "CONSUMER_CONCURRENCY: must be at least 1"),
        ("max_message_bytes", "10", "MAX_MESSAGE_BYTES: must be at least 1024"),
        ("kafka_topic_prefix", "a b", "KAFKA_TOPIC_PREFIX: String should match pattern"),
    ],
)
def test_a_value_out_of_range_is_refused_naming_the_variable_and_its_bound(
    variable: str, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(**{variable: text})
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(
    "url",
    [
        "nonsense",
        "mysql://user:hunter2@host/db",
        "postgresql://user:hunter2@host:99999/db",
        "postgresql+asyncpg://user:hunter2@host/db",
    ],
)
def test_a_database_url_that_names_no_postgresql_database_is_refused_without_echoing_it(
    url: str,
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(database_url=url)
    assert str(refused.value).startswith("DATABASE_URL: ")
    assert "hunter2" not in str(refused.value)


def test_urls_libpq_takes_without_a_host_are_accepted() -> None:
    url = "postgresql:///streamjobs?host=/run/postgresql&password=x"
    assert load_settings(database_url=url).database_url.get_secret_value() == url


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "250ms"),
        (30.0, "30s"),
        (300.0, "5m"),
        (5400.0, "90m"),
        (7200.0, "2h"),
        (0.0005, "0.0005s"),
    ],
)
def test_a_duration_is_shown_in_the_largest_whole_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_durations_are_told_apart_from_plain_numbers() -> None:
    fields = Settings.model_fields
    assert is_duration(fields["webhook_timeout"])
    assert not is_duration(fields["retry_jitter"])
