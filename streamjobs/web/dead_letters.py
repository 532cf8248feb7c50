"""The DLQ view's reads and its replay: grouped dead letters, which were replayed, re-sends.

Replays go through ``producers.replay.Replay`` with the cursor that
``streamjobs dlq replay`` would use for the same criteria, so a replay from
the view and one from the CLI continue each other.

A dead letter counts as replayed before when a replay cursor whose criteria
match it (its event id; its error class and endpoint; everything) has
committed past it, or, for webhooks, when a later attempt of its event is
logged in ``webhook_deliveries``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient
from sqlalchemy import Connection, text

from producers.dlq import DeadLetter, Scan, Selection, parse_instant
from producers.messages import prior_attempts
from producers.replay import Replay, ReplayCounts, cursor_group, typed_criteria
from schemas import headers
from schemas.topics import TopicSet
from streamjobs.kafka import client_config
from streamjobs.settings import Settings

ADMIN_TIMEOUT = 10.0
"""Seconds a broker request of the view may take."""

SHOWN_PER_GROUP = 50
"""Dead letters listed in one group; the count covers all of them."""


@dataclass(frozen=True, kw_only=True)
class Criteria:
    """What one replay form selects; unset parts match every dead letter.

    Args:
        event_id: one event.
        error_class: ``x-error-class``.
        key: the message key (a webhook's endpoint id).
        since: failures at or after this time, as typed (ISO 8601 or ``2h``).
    """

    event_id: str | None = None
    error_class: str | None = None
    key: str | None = None
    since: str | None = None

    def selection(self) -> Selection:
        """The ``Selection`` of these criteria."""
        return Selection(
            event_ids=frozenset(_one(self.event_id)),
            error_classes=frozenset(_one(self.error_class)),
            keys=frozenset(_one(self.key)),
            since_ms=None if self.since is None else parse_instant(self.since),
        )

    def typed(self) -> list[str]:
        """The criteria as ``dlq replay`` options: the cursor's identity."""
        return typed_criteria(
            event_ids=_one(self.event_id),
            keys=_one(self.key),
            error_classes=_one(self.error_class),
            since=self.since,
        )


def _one(value: str | None) -> list[str]:
    return [] if value is None else [value]


@dataclass(kw_only=True)
class Letter:
    """A dead letter as listed: the letter and whether it was replayed before."""

    letter: DeadLetter
    replayed: bool = False

    @property
    def attempts(self) -> int:
        """Attempts it had made overall when it was dead-lettered (0 when unknown)."""
        try:
            return prior_attempts(self.letter.received) + int(
                self.letter.received.get(headers.ATTEMPT, "0")
            )
        except ValueError:
            return 0


@dataclass(kw_only=True)
class Group:
    """Dead letters sharing an error class and an endpoint (the message key)."""

    error_class: str
    key: str | None
    count: int = 0
    letters: list[Letter] = field(default_factory=list)


def grouped(settings: Settings, topics: TopicSet, connection: Connection | None) -> list[Group]:
    """Every dead letter of ``topics``, grouped by error class and key, replays marked.

    Args:
        settings: brokers.
        topics: the job's topics.
        connection: the database, to find webhook attempts after a dead letter;
            None for other jobs.
    """
    groups: dict[tuple[str, str | None], Group] = {}
    with Scan(settings, topics.dlq) as scan:
        letters = [Letter(letter=letter) for letter in scan]
    _mark_replayed(settings, topics, letters, connection)
    for item in letters:
        name = item.letter.error_class or "-"
        group = groups.setdefault(
            (name, item.letter.key_text), Group(error_class=name, key=item.letter.key_text)
        )
        group.count += 1
        if len(group.letters) < SHOWN_PER_GROUP:
            group.letters.append(item)
    return sorted(groups.values(), key=lambda g: (-g.count, g.error_class, g.key or ""))


def _mark_replayed(
    settings: Settings, topics: TopicSet, letters: list[Letter], connection: Connection | None
) -> None:
    if not letters:
        return
    candidates = {id(item): _cursors(settings, topics, item.letter) for item in letters}
    positions = _committed(settings, {name for names in candidates.values() for name in names})
    later = _later_attempts(connection, [item.letter.event_id for item in letters])
    for item in letters:
        letter = item.letter
        past = any(
            positions.get((name, letter.partition), -1) > letter.offset
            for name in candidates[id(item)]
        )
        item.replayed = past or later.get(letter.event_id, 0) > item.attempts > 0


def _cursors(settings: Settings, topics: TopicSet, letter: DeadLetter) -> list[str]:
    """Cursor groups whose criteria match ``letter``: its event, its group, everything."""
    name = topics.spec.name
    forms = [
        Criteria(event_id=letter.event_id),
        Criteria(error_class=letter.error_class, key=letter.key_text),
        Criteria(),
    ]
    return [cursor_group(settings, name, form.typed()) for form in forms]


def _committed(settings: Settings, groups: Iterable[str]) -> dict[tuple[str, int], int]:
    """Committed offsets of those of ``groups`` that exist, by (group, partition)."""
    admin = AdminClient(client_config(settings) | {"log_level": 0})
    listed = admin.list_consumer_groups(request_timeout=ADMIN_TIMEOUT).result()
    existing = {g.group_id for g in listed.valid} & set(groups)
    positions: dict[tuple[str, int], int] = {}
    for name in existing:
        future = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(name)], request_timeout=ADMIN_TIMEOUT
        )[name]
        for tp in future.result().topic_partitions or []:
            if tp.offset >= 0:
                positions[(name, tp.partition)] = tp.offset
    return positions


def _later_attempts(connection: Connection | None, event_ids: list[str]) -> dict[str, int]:
    if connection is None:
        return {}
    rows = connection.execute(
        text(
            "SELECT event_id, max(attempt) FROM webhook_deliveries"
            " WHERE event_id = ANY(:ids) GROUP BY event_id"
        ),
        {"ids": event_ids},
    )
    return {event_id: attempt for event_id, attempt in rows}


def replay(
    settings: Settings, topics: TopicSet, criteria: Criteria, *, dry_run: bool
) -> ReplayCounts:
    """Re-send the dead letters ``criteria`` selects (only count them with ``dry_run``).

    Uses the cursor of ``streamjobs dlq replay`` with the same criteria, so
    what was replayed with them before is not sent again.

    Raises:
        DlqReadError: the broker did not deliver the dead-letter topic in time.
        ValueError: ``criteria.since`` is not a time.
    """
    run = Replay(
        settings,
        topics,
        cursor=cursor_group(settings, topics.spec.name, criteria.typed()),
        selection=criteria.selection(),
        dry_run=dry_run,
    )
    return run.run()
