"""Fatal and exhausted failures reach Sentry, without the payload."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

from schemas.topics import TopicSet
from streamjobs.settings import Settings
from tests.consumers.runtime.conftest import ProbeProcess
from tests.kafka_support import produce, wait_until
from tests.sentry_support import SentryInbox


def test_a_fatal_failure_is_reported_to_sentry_without_the_payload(
    settings: Settings,
    probe_topics: TopicSet,
    probe_process: Callable[..., ProbeProcess],
    sentry_inbox: SentryInbox,
) -> None:
    secret = "sk_live_do_not_leak"
    produce(
        settings,
        probe_topics.main,
        [json.dumps({"id": 9, "fatal": True}).encode()],
        headers=[("authorization", secret.encode())],
    )
    probe = probe_process(SENTRY_DSN=sentry_inbox.dsn).start()
    wait_until(lambda: any("probe 9 is fatal" in e for e in sentry_inbox.envelopes), timeout=60)
    probe.signal(signal.SIGTERM)
    assert probe.wait() == 0
    (report,) = [e for e in sentry_inbox.envelopes if "probe 9 is fatal" in e]
    event = json.loads(report.splitlines()[2])
    assert event["tags"]["error_kind"] == "fatal"
    assert event["tags"]["topic"] == probe_topics.main
    assert secret not in report
    assert '"fatal": true' not in report
