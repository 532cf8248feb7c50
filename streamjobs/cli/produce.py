"""``streamjobs produce TOPIC [JSON]``: validate and publish one event."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from producers.publisher import Publisher, parse_event_json
from schemas.events import describe_validation
from schemas.topics import REGISTRY, find_spec
from streamjobs.errors import ConfigError
from streamjobs.kafka import check_brokers
from streamjobs.settings import Settings


def register(command: argparse.ArgumentParser) -> None:
    """Add the arguments of ``produce``."""
    command.add_argument("topic", choices=[spec.name for spec in REGISTRY], metavar="TOPIC")
    command.add_argument("json", nargs="?", help="the event; read from stdin when absent")
    command.add_argument("--key", help="partition key")
    command.add_argument("--event-id", help="idempotency key (the event-id header)")
    command.set_defaults(run=run_produce)


def run_produce(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the event and publish it; print where it landed."""
    text = args.json if args.json is not None else sys.stdin.read()
    try:
        event = find_spec(args.topic).model.model_validate(parse_event_json(text))
    except ValidationError as exc:
        raise ConfigError(f"invalid {args.topic} event: {describe_validation(exc)}") from None
    except ValueError as exc:
        raise ConfigError(f"invalid {args.topic} event: {exc}") from None
    check_brokers(settings)
    publisher = Publisher(settings)
    delivered = publisher.publish(args.topic, event, key=args.key, event_id=args.event_id)
    assert delivered is not None  # wait=True always returns where it landed
    print(
        f"published to {delivered.topic} partition {delivered.partition} offset {delivered.offset}"
    )
    return 0
