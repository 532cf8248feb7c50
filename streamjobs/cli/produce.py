"""``streamjobs produce TOPIC [JSON]``: validate and publish events.

One event from the argument, or one a line from stdin (blank lines are
skipped). Every line is validated before the first is sent, so a bad line
sends nothing; the error names its line. Each published event's id is
printed, one a line: the ``--event-id`` given, else the
``<topic>:<partition>:<offset>`` id the consumer derives for it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from producers.publisher import Delivered, InvalidEventError, Publisher, parse_event_json
from schemas.headers import EVENT_ID
from schemas.topics import REGISTRY
from streamjobs.errors import ConfigError
from streamjobs.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``produce`` command."""
    command = commands.add_parser(
        "produce",
        help="validate and publish events; prints their ids",
        description=(
            "Validate and publish one event from JSON, or one per line of stdin. "
            "A bad line exits 2 naming its line, and nothing is sent."
        ),
    )
    command.add_argument("topic", choices=[spec.name for spec in REGISTRY], metavar="TOPIC")
    command.add_argument("json", nargs="?", help="the event; one per line from stdin when absent")
    command.add_argument("--key", help="partition key")
    command.add_argument("--event-id", help="idempotency key (the event-id header); one event")
    command.set_defaults(run=run_produce)


def run_produce(args: argparse.Namespace, settings: Settings) -> int:
    """Validate every event, then publish them; print each event id."""
    publisher = Publisher(settings)
    lines = [args.json] if args.json is not None else sys.stdin
    values = encode_lines(publisher, args.topic, lines, from_stdin=args.json is None)
    if args.event_id is not None and len(values) != 1:
        raise ConfigError(f"--event-id names one event; stdin held {len(values)}")
    headers = [(EVENT_ID, args.event_id.encode())] if args.event_id else None
    with publisher:
        futures = [
            publisher.publish_raw_nowait(
                settings.prefixed(args.topic), value, key=args.key, headers=headers
            )
            for value in values
        ]
        publisher.flush()
    for future in futures:
        print(args.event_id or derived_event_id(future.result()))
    return 0


def encode_lines(
    publisher: Publisher, topic: str, lines: Iterable[str], *, from_stdin: bool
) -> list[bytes]:
    """The bytes of each non-blank line's event, validated for ``topic``.

    Raises:
        ConfigError: a line is not a valid event; the message names the line
            (when read from stdin) and the reason.
    """
    values: list[bytes] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}: " if from_stdin else ""
        try:
            values.append(publisher.encode(topic, parse_event_json(line)))
        except InvalidEventError as exc:
            raise ConfigError(f"{where}{exc}") from None
        except ValueError as exc:
            raise ConfigError(f"{where}invalid {topic} event: {exc}") from None
    if not values:
        raise ConfigError("no event given: pass JSON or one event per line on stdin")
    return values


def derived_event_id(delivered: Delivered) -> str:
    """The id a consumer gives an event without an ``event-id`` header."""
    return f"{delivered.topic}:{delivered.partition}:{delivered.offset}"
