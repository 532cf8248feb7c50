"""Kafka administration helpers against the real broker."""

from __future__ import annotations

import uuid
from dataclasses import replace

from confluent_kafka import Consumer, TopicPartition

from streamjobs.kafka import client_config, create_topics, topic_set, watermark_offsets
from streamjobs.settings import Settings
from tests.consumers.runtime.probe import PROBE_TOPIC

FRESH_TOPICS = 5
"""Topic sets created and read at once; unretried, 35 of 120 such reads failed here."""


def test_watermarks_of_topics_created_a_moment_ago_are_read_without_a_leader_error(
    settings: Settings,
) -> None:
    consumer = Consumer(client_config(settings) | {"group.id": f"wm-{uuid.uuid4().hex}"})
    try:
        for number in range(FRESH_TOPICS):
            created = topic_set(settings, replace(PROBE_TOPIC, name=f"fresh-{number}"))
            create_topics(settings, [created])
            for name in (*created.consumed, created.dlq):
                for partition in range(settings.kafka_topic_partitions):
                    tp = TopicPartition(name, partition)
                    assert watermark_offsets(consumer, tp, timeout=10) == (0, 0)
    finally:
        consumer.close()
