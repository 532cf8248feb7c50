"""The one settings object, read from the environment.

Every default points at the local services that ``make services`` starts, so a
fresh checkout runs without any configuration.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cached_property
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from streamjobs.errors import ConfigError

LOCAL_DATABASE_URL = "postgresql+psycopg://streamjobs:streamjobs@127.0.0.1:54329/streamjobs"
"""The private PostgreSQL cluster that ``make services`` runs under ``.dev/``."""

DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
"""Suffixes accepted in durations such as ``30s``, ``5m`` or ``30d``."""

DATABASE_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
"""URL schemes ``DATABASE_URL`` may use; the plain ones mean psycopg 3."""

MAX_RETRY_TIERS = 10
"""Most delay tiers a job may have (attempts = tiers + 1)."""

MAX_RETRY_DELAY = 7 * 86400.0
"""Longest delay of one tier, in seconds."""

MIN_TOKEN_LENGTH = 16
"""Shortest ``DASHBOARD_TOKEN`` accepted: a guessable token would open the job view."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``text``, such as ``250ms``, ``30s``, ``5m``, ``2h`` or ``30d``.

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


def format_duration(seconds: float) -> str:
    """``seconds`` in the largest unit that shows it whole: ``250ms``, ``30s``, ``5m``, ``2h``."""
    for unit in ("h", "m", "s", "ms"):
        count = seconds / DURATION_UNITS[unit]
        if count >= 1 and abs(count - round(count)) < 1e-9:
            return f"{round(count)}{unit}"
    return f"{seconds:g}s"


def is_duration(field: FieldInfo) -> bool:
    """Whether ``field`` is a ``Duration`` (read and shown as ``30s``, not a number)."""
    return _DURATION_TEXT in field.metadata


def check_database_url(url: str) -> None:
    """Refuse a ``DATABASE_URL`` that cannot name a PostgreSQL database.

    Raises:
        ValueError: the scheme or the port is wrong; the message never echoes
            the URL, which holds a password.
    """
    example = "such as postgresql://user:password@host:5432/database"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError:
        raise ValueError(f"not a URL {example}") from None
    if parts.scheme not in DATABASE_SCHEMES:
        raise ValueError(f"must be a postgresql:// URL {example}")


def _tiers_bounded(delays: tuple[float, ...]) -> tuple[float, ...]:
    if len(delays) > MAX_RETRY_TIERS:
        raise ValueError(f"at most {MAX_RETRY_TIERS} tiers")
    if any(not 0 <= delay <= MAX_RETRY_DELAY for delay in delays):
        raise ValueError(f"each delay must be between 0s and {format_duration(MAX_RETRY_DELAY)}")
    return delays


def _parsed_with(parse: Callable[[str], Any]) -> BeforeValidator:
    """A validator that parses text with ``parse`` and passes other values through."""
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


_DURATION_TEXT = _parsed_with(parse_duration)

Duration = Annotated[float, NoDecode, _DURATION_TEXT]
"""Seconds; read from text such as ``250ms``, ``30s``, ``5m`` or ``2h``."""

Delays = Annotated[
    tuple[float, ...], NoDecode, _parsed_with(parse_delays), AfterValidator(_tiers_bounded)
]
"""Retry tiers in seconds; read from text such as ``30s,5m`` (``none``: no retries)."""


class Settings(BaseSettings):
    """Effective configuration of one streamjobs process.

    Field names map to upper-case environment variables (``kafka_topic_prefix``
    is ``KAFKA_TOPIC_PREFIX``). Instances are immutable.
    """

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        min_length=1,
        max_length=2048,
        pattern=r"^\S+$",
        description="brokers to bootstrap from, host:port separated by commas",
    )
    kafka_topic_prefix: str = Field(
        "",
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="prefixes every topic and group, so environments can share a cluster",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="how clients talk to the brokers"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism, with a SASL_* protocol"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password")
    kafka_topic_partitions: int = Field(
        6, ge=1, le=1000, description="partitions of every topic `topics create` makes"
    )
    kafka_replication_factor: int = Field(
        -1, ge=-1, le=32, description="replicas of created topics; -1 takes the broker's default"
    )
    kafka_commit_interval: Duration = Field(
        0.05,
        ge=0.01,
        le=60,
        description="how often offsets are committed, with the offsets completed above them",
    )
    kafka_session_timeout: Duration = Field(
        45.0,
        ge=6,
        le=1800,
        description="consumer group session timeout (the broker allows 6s to 30m by default)",
    )
    kafka_connect_timeout: Duration = Field(
        5.0,
        ge=0.1,
        le=120,
        description="how long a connection to a broker may take; commands fail after it",
    )
    kafka_group_instance_id: str | None = Field(
        None, max_length=249, description="static group membership: a stable name per process"
    )
    dlq_retention: Duration = Field(
        28 * 86400.0,
        ge=3600,
        le=10 * 365 * 86400,
        description="how long dead-letter topics keep their messages",
    )

    database_url: SecretStr = Field(
        SecretStr(LOCAL_DATABASE_URL),
        description="PostgreSQL URL; postgresql:// is read as postgresql+psycopg://",
    )
    database_connect_timeout: Duration = Field(
        5.0,
        ge=1,
        le=120,
        description="how long a connection attempt to PostgreSQL may take",
    )

    retry_delays: Delays = Field(
        (30.0, 300.0),
        description="delay before each retry; attempts = tiers + 1; none for no retries",
    )
    webhook_retry_delays: Delays | None = Field(
        None, description="the webhook job's own tiers (unset: RETRY_DELAYS)"
    )
    email_retry_delays: Delays | None = Field(
        None, description="the email jobs' own tiers (unset: RETRY_DELAYS)"
    )
    cleanup_retry_delays: Delays | None = Field(
        None, description="the cleanup job's own tiers (unset: RETRY_DELAYS)"
    )
    retry_jitter: float = Field(
        0.2, ge=0, le=1, description="up to this fraction of a delay is added to it, at random"
    )
    retry_after_max: Duration = Field(
        3600.0, ge=0, le=86400, description="longest Retry-After that is honoured"
    )

    consumer_concurrency: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description=(
            "messages in flight per process and job; for the webhook job, POSTs in flight"
            " (unset: each job's own)"
        ),
    )
    consumer_drain_timeout: Duration = Field(
        30.0, ge=0, le=3600, description="how long shutdown waits for in-flight work"
    )
    consumer_max_parked: int = Field(
        10_000,
        ge=0,
        le=1_000_000,
        description="not-yet-due retries held in memory per job before a partition pauses",
    )
    max_message_bytes: int = Field(
        1_000_000,
        ge=1024,
        le=100_000_000,
        description="larger message values go to the dead-letter topic unread",
    )

    max_event_bytes: int = Field(
        256 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="largest event JSON the producer API and `produce` publish; larger is refused",
    )

    webhook_connect_timeout: Duration = Field(
        5.0, ge=0.1, le=60, description="connect timeout of a webhook delivery"
    )
    webhook_timeout: Duration = Field(
        15.0, ge=0.1, le=300, description="total timeout of a webhook delivery"
    )
    webhook_allow_private_networks: bool = Field(
        False, description="allow private and loopback targets (development and tests only)"
    )
    webhook_config_cache_ttl: Duration = Field(
        30.0, ge=0, le=30, description="how long an endpoint's config is cached"
    )
    webhook_secret_grace: Duration = Field(
        24 * 3600.0,
        ge=0,
        le=30 * 86400,
        description="how long a rotated-out secret keeps signing",
    )

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

    web_host: str = Field(
        "127.0.0.1", min_length=1, max_length=253, description="address the job view binds"
    )
    web_port: int = Field(
        8288, ge=0, le=65_535, description="port of the job view (0: any free one)"
    )
    dashboard_token: SecretStr | None = Field(
        None,
        description="token of the job view (Bearer or login form); unset: loopback only, no login",
    )
    history_retention: Duration = Field(
        30 * 86400.0,
        ge=3600,
        le=10 * 365 * 86400,
        description="how long delivery and run history is kept; the daily cleanup trims older rows",
    )

    sentry_dsn: SecretStr | None = Field(None, description="Sentry DSN; unset: no reporting")
    sentry_environment: str | None = Field(
        None, max_length=64, description="environment name on Sentry events"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="lowest level logged"
    )
    log_format: Literal["json", "text"] | None = Field(
        None, description="json or text (unset: text on a terminal, else json)"
    )

    @field_validator("kafka_replication_factor")
    @classmethod
    def _replicas(cls, factor: int) -> int:
        if factor == 0:
            raise ValueError("must be -1 (the broker's default) or at least 1")
        return factor

    @field_validator("dashboard_token")
    @classmethod
    def _long_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters")
        return token

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, url: SecretStr) -> SecretStr:
        check_database_url(url.get_secret_value())
        return url

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL, always with the psycopg 3 driver spelled out.

        ``connect_timeout`` (libpq's, whole seconds) comes from
        ``DATABASE_CONNECT_TIMEOUT`` unless the URL sets it.
        """
        url = self.database_url.get_secret_value()
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                url = "postgresql+psycopg://" + url.removeprefix(plain)
        names = {parameter.partition("=")[0] for parameter in urlsplit(url).query.split("&")}
        if "connect_timeout" in names:
            return url
        timeout = math.ceil(self.database_connect_timeout)
        return f"{url}{'&' if '?' in url else '?'}connect_timeout={timeout}"

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
        ConfigError: a variable is malformed or out of range; the message names
            it, and never repeats its value.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"{name}: {_explain(first)}") from None


_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def _explain(error: ErrorDetails) -> str:
    """Pydantic's message for ``error``, or the bound it broke; durations shown as such."""
    field = Settings.model_fields.get(str(error["loc"][0])) if error["loc"] else None
    bound = _BOUNDS.get(error["type"])
    if field is None or bound is None:
        return error["msg"].removeprefix("Value error, ")
    key, words = bound
    limit = error.get("ctx", {})[key]
    shown = format_duration(float(limit)) if is_duration(field) else limit
    return f"must be {words} {shown}"
