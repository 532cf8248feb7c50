"""When the broker refuses the write onward, the partition waits; nothing is skipped."""

from __future__ import annotations

import json
import time

from confluent_kafka.admin import AdminClient

# confluent_kafka.admin does not re-export these for type checkers.
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource

from consumers.runtime.runner import Runner
from schemas.topics import TopicSet
from streamjobs.kafka import client_config
from streamjobs.settings import Settings
from tests.consumers.runtime.probe import Journal, probe_job
from tests.kafka_support import committed_offsets, produce, read_topic, running, wait_until


def limit_message_size(settings: Settings, topic: str, max_bytes: int) -> None:
    """Set the broker's per-topic message size limit of ``topic``."""
    admin = AdminClient(client_config(settings))
    entry = ConfigEntry(
        "max.message.bytes", str(max_bytes), incremental_operation=AlterConfigOpType.SET
    )
    resource = ConfigResource("topic", topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def test_a_refused_dlq_write_holds_the_offset_until_the_broker_accepts_it(
    settings: Settings, probe_topics: TopicSet
) -> None:
    fast_commits = settings.model_copy(update={"kafka_commit_interval": 0.05})
    limit_message_size(settings, probe_topics.dlq, 64)  # every DLQ record is larger
    fatal = json.dumps({"id": 1, "fatal": True}).encode()
    good = [json.dumps({"id": n}).encode() for n in (2, 3)]
    produce(settings, probe_topics.main, [fatal, *good], spread=1)
    journal = Journal()
    with running(Runner([probe_job(journal)], fast_commits)):
        wait_until(lambda: sorted(journal.ids()) == [1, 2, 3])
        time.sleep(2.0)  # a few failed writes and backoffs
        assert committed_offsets(settings, probe_topics.group, probe_topics.main)[0] <= 0
        limit_message_size(settings, probe_topics.dlq, 1_000_000)
        (dead,) = read_topic(settings, probe_topics.dlq, count=1, timeout=60)
        produce(settings, probe_topics.main, [json.dumps({"id": 4}).encode()], spread=1)
        wait_until(lambda: 4 in journal.ids())
        wait_until(
            lambda: committed_offsets(settings, probe_topics.group, probe_topics.main)[0] == 4
        )
    assert dead.value == fatal
