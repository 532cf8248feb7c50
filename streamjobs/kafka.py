"""Kafka client configuration and topic administration.

Every client streamjobs creates gets its configuration here, so security
settings and defaults live in one place. librdkafka's own log lines go
through Python logging (logger ``streamjobs.librdkafka``, served when a
client polls) instead of straight to stderr, so they take the process's log
format and never interleave with a command's one-line error.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from schemas.topics import REGISTRY, TopicSet, TopicSpec
from streamjobs.errors import OperationRefused, ServiceUnavailable
from streamjobs.settings import Settings, format_duration

ADMIN_TIMEOUT = 30.0
"""Seconds to wait for the broker to answer an admin request."""

LEADER_POLL_INTERVAL = 0.1
"""Seconds between metadata checks while new topics get their partition leaders."""

LIBRDKAFKA_LOGGER = logging.getLogger("streamjobs.librdkafka")
"""Where every client's librdkafka log lines go."""


class MetadataClient(Protocol):
    """What every confluent-kafka client (producer, consumer, admin) can do."""

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        """The cluster's metadata; raises ``KafkaException`` when no broker answers."""


LEADERLESS = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
)
"""Errors of a partition whose leader is not known yet (just created, or moving): retried."""


def client_config(settings: Settings) -> dict[str, Any]:
    """Settings common to every client: brokers and security."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
        "socket.connection.setup.timeout.ms": int(settings.kafka_connect_timeout * 1000),
        "logger": LIBRDKAFKA_LOGGER,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        config |= {
            "sasl.mechanism": settings.kafka_sasl_mechanism,
            "sasl.username": settings.kafka_sasl_username or "",
            "sasl.password": password.get_secret_value() if password else "",
        }
    return config


def command_config(settings: Settings) -> dict[str, Any]:
    """``client_config`` for a one-shot command's client, with librdkafka's log lines dropped.

    A command's own error names what failed in one line; a dead broker would
    otherwise add a line per reconnection attempt.
    """
    return client_config(settings) | {"log_level": 0}


def producer_config(settings: Settings) -> dict[str, Any]:
    """An idempotent producer that waits for every in-sync replica.

    ``murmur2_random`` matches the Java client, so keyed events from Python
    and Java producers land on the same partition.
    """
    return client_config(settings) | {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "partitioner": "murmur2_random",
        "message.max.bytes": max(settings.max_message_bytes * 2, 1_000_000),
    }


def consumer_config(settings: Settings, group: str) -> dict[str, Any]:
    """A consumer of ``group`` that commits only when the runtime says so.

    Auto-commit is off: the runtime commits each position together with the
    offsets completed above it (in the commit's metadata), which
    librdkafka's auto-commit would not send while the position stands still.

    With ``KAFKA_GROUP_INSTANCE_ID`` set (say, a pod name), the member is
    static: a restart within the session timeout keeps its partitions without
    a rebalance.
    """
    static = {"group.instance.id": settings.kafka_group_instance_id}
    return (
        client_config(settings)
        | ({} if settings.kafka_group_instance_id is None else static)
        | {
            "group.id": group,
            "partition.assignment.strategy": "cooperative-sticky",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "session.timeout.ms": int(settings.kafka_session_timeout * 1000),
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )


def check_brokers(settings: Settings, client: MetadataClient | None = None) -> None:
    """Return once a broker answers a metadata request, within ``KAFKA_CONNECT_TIMEOUT``.

    Commands call it before their first request, so a dead broker fails
    them in seconds, not after librdkafka's own (much longer) timeouts.

    Args:
        settings: brokers, security and the timeout.
        client: the client to ask (default: a short-lived admin client).

    Raises:
        ServiceUnavailable: no broker answered; the message names the brokers.
    """
    try:
        (client or AdminClient(command_config(settings))).list_topics(
            timeout=settings.kafka_connect_timeout
        )
    except KafkaException as exc:
        raise brokers_unreachable(settings, exc.args[0].str()) from None


def brokers_unreachable(settings: Settings, cause: str) -> ServiceUnavailable:
    """The error for brokers that did not answer within ``KAFKA_CONNECT_TIMEOUT``."""
    waited = format_duration(settings.kafka_connect_timeout)
    return ServiceUnavailable(
        "Kafka", settings.kafka_bootstrap_servers, f"no broker answered within {waited}: {cause}"
    )


def topic_set(settings: Settings, spec: TopicSpec[Any]) -> TopicSet:
    """``spec`` with this environment's prefix and retry tiers applied."""
    return TopicSet(
        spec=spec,
        main=settings.prefixed(spec.name),
        group=settings.prefixed(spec.group),
        delays=settings.delays_for(spec.job),
    )


def all_topic_sets(settings: Settings) -> list[TopicSet]:
    """Every registry entry, resolved for this environment."""
    return [topic_set(settings, spec) for spec in REGISTRY]


@dataclass(frozen=True)
class TopicsCreated:
    """What ``create_topics`` did: names it created and names that already existed."""

    created: list[str]
    existing: list[str]


def _new_topics(settings: Settings, topic_sets: list[TopicSet]) -> list[NewTopic]:
    """The main, delay and dead-letter topics of ``topic_sets``."""
    partitions = settings.kafka_topic_partitions
    replication = settings.kafka_replication_factor
    topics: list[NewTopic] = []
    for topics_of in topic_sets:
        for name in topics_of.consumed:
            topics.append(NewTopic(name, partitions, replication))
        dlq_config = {
            "retention.ms": str(int(settings.dlq_retention * 1000)),
            "cleanup.policy": "delete",
        }
        topics.append(NewTopic(topics_of.dlq, partitions, replication, config=dlq_config))
    return topics


def create_topics(settings: Settings, topic_sets: list[TopicSet] | None = None) -> TopicsCreated:
    """Create every topic that does not exist yet; idempotent.

    Args:
        settings: brokers, partitions, replication, DLQ retention.
        topic_sets: the topics to create; default the whole registry.

    Raises:
        ServiceUnavailable: no broker answered.
        OperationRefused: the broker refused a topic for another reason than
            its existing, or its partitions got no leader in time.
    """
    admin = AdminClient(command_config(settings))
    check_brokers(settings, admin)
    futures = admin.create_topics(
        _new_topics(settings, topic_sets or all_topic_sets(settings)), request_timeout=ADMIN_TIMEOUT
    )
    result = TopicsCreated(created=[], existing=[])
    for name, future in futures.items():
        try:
            future.result(timeout=ADMIN_TIMEOUT)
            result.created.append(name)
        except concurrent.futures.TimeoutError:
            raise brokers_unreachable(settings, f"no answer to creating {name}") from None
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise OperationRefused(f"creating topic {name} failed: {error.str()}") from None
            result.existing.append(name)
    _wait_for_leaders(admin, result.created)
    return result


def _wait_for_leaders(admin: AdminClient, topics: list[str]) -> None:
    """Wait until every partition of ``topics`` has a leader.

    A topic is created before its partitions have leaders; a client that
    uses it at once would get ``NOT_LEADER_FOR_PARTITION``.
    """
    deadline = time.monotonic() + ADMIN_TIMEOUT
    pending = set(topics)
    while pending and time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=ADMIN_TIMEOUT).topics
        pending = {
            name
            for name in pending
            if name not in metadata
            or not metadata[name].partitions
            or any(p.leader < 0 for p in metadata[name].partitions.values())
        }
        if pending:
            time.sleep(LEADER_POLL_INTERVAL)
    if pending:
        raise OperationRefused(
            f"topics created but without partition leaders after {ADMIN_TIMEOUT:.0f}s: "
            + ", ".join(sorted(pending))
        )


def watermark_offsets(
    consumer: Consumer, partition: TopicPartition, *, timeout: float = ADMIN_TIMEOUT
) -> tuple[int, int]:
    """The low and high watermark of ``partition``, waiting out a leader election.

    Right after ``topics create`` a partition's leader may not be known to
    every client yet; the broker answers ``NOT_LEADER_FOR_PARTITION`` until it
    is, so those errors are retried until ``timeout`` seconds have passed.

    Raises:
        KafkaException: another error, or still no leader after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            low, high = consumer.get_watermark_offsets(
                partition, timeout=max(deadline - time.monotonic(), LEADER_POLL_INTERVAL)
            )
            return int(low), int(high)
        except KafkaException as exc:
            if exc.args[0].code() not in LEADERLESS or time.monotonic() >= deadline:
                raise
        time.sleep(LEADER_POLL_INTERVAL)
