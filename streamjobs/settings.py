"""The one settings object, read from the environment.

Every default points at the local services that ``make services`` starts, so a
fresh checkout runs without any configuration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from streamjobs.errors import ConfigError

LOCAL_DATABASE_URL = "postgresql+psycopg://streamjobs:streamjobs@127.0.0.1:54329/streamjobs"
"""The private PostgreSQL cluster that ``make services`` runs under ``.dev/``."""

DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
"""Suffixes accepted in durations such as ``30s`` or ``5m``."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``text``, such as ``250ms``, ``30s``, ``5m`` or ``2h``.

    Raises:
        ValueError: the text is not one number followed by one unit.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m or 250ms")
    return float(match[1]) * DURATION_UNITS[match[2]]


def parse_delays(text: str) -> tuple[float, ...]:
    """Retry tiers from comma-separated durations; ``none`` means no retries."""
    if text.strip().lower() == "none":
        return ()
    return tuple(parse_duration(part) for part in text.split(","))


def _parsed_with(parse: Callable[[str], Any]) -> BeforeValidator:
    """A validator that parses text with ``parse`` and passes other values through."""
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


Duration = Annotated[float, NoDecode, _parsed_with(parse_duration)]
"""Seconds; read from text such as ``250ms``, ``30s``, ``5m`` or ``2h``."""

Delays = Annotated[tuple[float, ...], NoDecode, _parsed_with(parse_delays)]
"""Retry tiers in seconds; read from text such as ``30s,5m`` (``none``: no retries)."""


class Settings(BaseSettings):
    """Effective configuration of one streamjobs process.

    Field names map to upper-case environment variables (``kafka_topic_prefix``
    is ``KAFKA_TOPIC_PREFIX``). Instances are immutable.
    """

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_topic_partitions: int = Field(6, ge=1)
    kafka_replication_factor: int = Field(-1, ge=-1)
    kafka_commit_interval: Duration = 0.05
    kafka_session_timeout: Duration = 45.0
    kafka_group_instance_id: str | None = None
    dlq_retention: Duration = 28 * 86400.0

    database_url: SecretStr = SecretStr(LOCAL_DATABASE_URL)

    retry_delays: Delays = (30.0, 300.0)
    webhook_retry_delays: Delays | None = None
    email_retry_delays: Delays | None = None
    cleanup_retry_delays: Delays | None = None
    retry_jitter: float = Field(0.2, ge=0, le=1)
    retry_after_max: Duration = 3600.0

    consumer_concurrency: int | None = Field(None, ge=1, le=10_000)
    consumer_drain_timeout: Duration = 30.0
    consumer_max_parked: int = Field(10_000, ge=0)
    max_message_bytes: int = Field(1_000_000, ge=1)

    max_event_bytes: int = Field(
        256 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="largest event JSON the producer API and `produce` publish; larger is refused",
    )

    webhook_connect_timeout: Duration = 5.0
    webhook_timeout: Duration = 15.0
    webhook_allow_private_networks: bool = False
    webhook_config_cache_ttl: Duration = Field(30.0, ge=0, le=30)
    webhook_secret_grace: Duration = 24 * 3600.0

    resend_api_key: SecretStr | None = Field(
        None, description="Resend API key (re_...); unset, the email jobs pause and say so"
    )
    resend_api_url: str = Field(
        "https://api.resend.com", min_length=1, description="base URL of the Resend API"
    )
    resend_rate_limit: int = Field(
        2, ge=1, le=1000, description="Resend requests per second per process, both email jobs"
    )
    resend_connect_timeout: Duration = Field(
        5.0, gt=0, le=60, description="connect timeout of a Resend request"
    )
    resend_timeout: Duration = Field(
        30.0, gt=0, le=300, description="total timeout of a Resend request"
    )
    email_from: str | None = Field(
        None, min_length=3, description="sender of an email whose event has no `from`"
    )
    email_batch_size: int = Field(
        10, ge=1, le=100, description="emails per Resend batch request (Resend takes 100)"
    )
    email_quota_probe_interval: Duration = Field(
        3600.0,
        ge=1,
        le=86400,
        description="pause between probes while a monthly quota or the API key stops sending",
    )

    cleanup_retention_days: int = Field(
        90, ge=1, le=3650, description="days of audit and system logs kept, unless the event says"
    )
    cleanup_batch_size: int = Field(
        10_000, ge=1, le=1_000_000, description="rows deleted per transaction"
    )
    cleanup_monitor_checkin_margin: Duration = Field(
        600.0, ge=60, le=86_400, description="Sentry Crons: lateness before a run counts as missed"
    )
    cleanup_monitor_max_runtime: Duration = Field(
        3600.0, ge=60, le=86_400, description="Sentry Crons: runtime after which a run timed out"
    )

    cron_secret: SecretStr | None = Field(
        None, description="bearer token of POST /api/cron/cleanup; unset: the trigger answers 503"
    )
    scheduler_http_host: str = Field(
        "127.0.0.1", min_length=1, description="address the scheduler's HTTP trigger binds"
    )
    scheduler_http_port: int = Field(
        8000, ge=0, le=65_535, description="port of the scheduler's HTTP trigger (0: any free one)"
    )
    cleanup_catchup_grace: Duration = Field(
        20 * 3600.0, ge=0, le=86_400, description="how late a missed daily slot is still run"
    )

    sentry_dsn: SecretStr | None = None
    sentry_environment: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL, always with the psycopg 3 driver spelled out."""
        url = self.database_url.get_secret_value()
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url.removeprefix(plain)
        return url

    def delays_for(self, job: str) -> tuple[float, ...]:
        """Retry tiers of ``job``: its own override, else ``RETRY_DELAYS``."""
        overrides = {
            "webhook": self.webhook_retry_delays,
            "email": self.email_retry_delays,
            "email-batch": self.email_retry_delays,
            "cleanup": self.cleanup_retry_delays,
        }
        override = overrides.get(job)
        return self.retry_delays if override is None else override

    def prefixed(self, name: str) -> str:
        """``name`` with ``KAFKA_TOPIC_PREFIX`` in front (topics and groups)."""
        return self.kafka_topic_prefix + name


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with ``overrides`` taking precedence.

    Raises:
        ConfigError: a variable is malformed; the message names it.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"{name}: {first['msg']}") from None
