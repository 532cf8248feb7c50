"""``streamjobs dlq list|replay TOPIC``: inspect and re-drive a topic's dead letters."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import UTC, datetime
from typing import Any

from producers.dlq import DeadLetter, Scan, Selection, parse_instant, replay
from producers.publisher import Publisher
from schemas import headers
from schemas.headers import ERROR_KINDS
from schemas.topics import REGISTRY, find_spec
from streamjobs.kafka import topic_set
from streamjobs.settings import Settings

MESSAGE_WIDTH = 80
"""Characters of ``x-error-message`` a text line shows."""

REPLAY_NOTE = (
    "A replay keeps the event id, so receivers that dedupe by it see the same event; "
    "replaying twice sends twice."
)


def register(group: argparse.ArgumentParser) -> None:
    """Add the ``dlq`` sub-commands: ``list`` and ``replay``."""
    actions = group.add_subparsers(dest="action", required=True, parser_class=type(group))
    listing = actions.add_parser(
        "list", help="print the dead letters of TOPIC", description="Read TOPIC.dlq to its end."
    )
    _add_selection(listing)
    listing.add_argument(
        "--json", action="store_true", help="one JSON object a line; the summary goes to stderr"
    )
    listing.set_defaults(run=run_list)
    replaying = actions.add_parser(
        "replay",
        help="publish dead letters of TOPIC to TOPIC again, from attempt 1",
        description=(
            "Publish matching dead letters of TOPIC.dlq to TOPIC again: key and value unchanged, "
            "runtime headers dropped so each starts at attempt 1, x-replayed-from added. "
            + REPLAY_NOTE
        ),
    )
    _add_selection(replaying)
    replaying.add_argument(
        "--dry-run", action="store_true", help="print what would be replayed; send nothing"
    )
    replaying.set_defaults(run=run_replay)


def _add_selection(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "topic",
        choices=[spec.name for spec in REGISTRY],
        metavar="TOPIC",
        help="a registry topic such as webhook.send; its dead letters are in TOPIC.dlq",
    )
    command.add_argument(
        "--event-id", action="append", default=[], metavar="ID", help="this event (repeatable)"
    )
    command.add_argument("--error-kind", choices=ERROR_KINDS, help="failures of this kind")
    for bound, meaning in (("since", "at or after"), ("until", "at or before")):
        command.add_argument(
            f"--{bound}",
            type=_instant,
            metavar="TIME",
            help=f"last failure {meaning} TIME: ISO 8601, or a duration ago such as 2h",
        )
    command.add_argument("--limit", type=_positive, metavar="N", help="stop after N matches")


def _instant(text: str) -> int:
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _scan(args: argparse.Namespace, settings: Settings) -> Scan:
    selection = Selection(
        event_ids=frozenset(args.event_id),
        error_kind=args.error_kind,
        since_ms=args.since,
        until_ms=args.until,
        limit=args.limit,
    )
    return Scan(settings, topic_set(settings, find_spec(args.topic)).dlq, selection)


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print each matching dead letter (a line, or JSON with ``--json``), then a summary."""
    with _scan(args, settings) as scan:
        for letter in scan:
            print(_as_json(letter) if args.json else _line(letter))
    print(_summary("listed", scan), file=sys.stderr if args.json else sys.stdout)
    return 0


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Publish each matching dead letter to the main topic (none with ``--dry-run``)."""
    main = topic_set(settings, find_spec(args.topic)).main
    publisher = None if args.dry_run else Publisher(settings)
    with _scan(args, settings) as scan:
        for letter in scan:
            print(_replay_one(letter, main, publisher))
    verb = "would replay" if publisher is None else "replayed"
    print(f"{_summary(verb, scan)} to {main}" + (" (dry run: nothing sent)" * args.dry_run))
    return 0


def _replay_one(letter: DeadLetter, topic: str, publisher: Publisher | None) -> str:
    if publisher is None:
        return f"would replay  {_line(letter)}"
    delivered = replay(publisher, letter, topic)
    return (
        f"replayed  {letter.partition}:{letter.offset}  {letter.event_id}"
        f"  -> {delivered.topic} partition {delivered.partition} offset {delivered.offset}"
    )


def _summary(verb: str, scan: Scan) -> str:
    limited = f" (stopped at --limit {scan.matched})" if scan.limited else ""
    return f"{verb} {scan.matched} of {scan.read} dead letters read from {scan.topic}{limited}"


def _line(letter: DeadLetter) -> str:
    received = letter.received
    message = " ".join(received.get(headers.ERROR_MESSAGE, "").split())
    if len(message) > MESSAGE_WIDTH:
        message = message[: MESSAGE_WIDTH - 1] + "…"
    return "  ".join(
        (
            f"{letter.partition}:{letter.offset}",
            letter.event_id,
            received.get(headers.ERROR_KIND, "-"),
            f"attempt={received.get(headers.ATTEMPT, '-')}",
            _iso(letter.last_failure_ms),
            f"http={received.get(headers.HTTP_STATUS, '-')}",
            message,
        )
    )


def _iso(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "-"
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_json(letter: DeadLetter) -> str:
    record: dict[str, Any] = {
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "event_id": letter.event_id,
        "headers": letter.received,
    }
    return json.dumps(record | _bytes("key", letter.key) | _bytes("value", letter.value))


def _bytes(name: str, data: bytes | None) -> dict[str, str | None]:
    """``name`` as UTF-8 text, else as base64; ``<name>_encoding`` says which."""
    if data is None:
        return {name: None, f"{name}_encoding": None}
    try:
        return {name: data.decode("utf-8"), f"{name}_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {name: base64.b64encode(data).decode(), f"{name}_encoding": "base64"}
