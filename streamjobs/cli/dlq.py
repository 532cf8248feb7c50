"""``streamjobs dlq list|replay TOPIC``: inspect and re-drive a topic's dead letters."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import UTC, datetime
from typing import Any, NamedTuple

from producers.dlq import DeadLetter, Scan, Selection, parse_instant
from producers.replay import Replay, ReplayCounts, cursor_group, typed_criteria
from schemas import headers
from schemas.headers import ERROR_KINDS
from schemas.topics import REGISTRY, find_spec
from streamjobs.kafka import topic_set
from streamjobs.settings import Settings

MESSAGE_WIDTH = 80
"""Characters of ``x-error-message`` a text line shows."""

REPLAY_NOTE = (
    "A replay keeps the event id, so receivers that dedupe by it see the same event. "
    "It remembers how far it got for these criteria: run again, it sends only dead letters "
    "that arrived since; --from-start sends them all again."
)

INTERRUPTED = 130
"""Exit status after Ctrl-C (what was confirmed is remembered)."""

BAR_WIDTH = 30
"""Characters of the progress bar."""


class Instant(NamedTuple):
    """A ``--since``/``--until`` value: as typed (the replay cursor's identity) and in epoch ms."""

    text: str
    epoch_ms: int


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
    replaying.add_argument(
        "--from-start",
        action="store_true",
        help="ignore how far earlier replays with these criteria got; replay everything again",
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
    command.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KEY",
        help="messages with this key (repeatable)",
    )
    command.add_argument(
        "--error-class",
        action="append",
        default=[],
        metavar="CLASS",
        help="failures whose x-error-class is CLASS, such as WebhookDisabledError (repeatable)",
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


def _instant(text: str) -> Instant:
    try:
        return Instant(text, parse_instant(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(
        event_ids=frozenset(args.event_id),
        keys=frozenset(args.key),
        error_classes=frozenset(args.error_class),
        error_kind=args.error_kind,
        since_ms=None if args.since is None else args.since.epoch_ms,
        until_ms=None if args.until is None else args.until.epoch_ms,
        limit=args.limit,
    )


def _criteria(args: argparse.Namespace) -> list[str]:
    """The selection as typed, less ``--limit``: what names the replay cursor."""
    return typed_criteria(
        event_ids=args.event_id,
        keys=args.key,
        error_classes=args.error_class,
        error_kind=args.error_kind,
        since=None if args.since is None else args.since.text,
        until=None if args.until is None else args.until.text,
    )


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print each matching dead letter (a line, or JSON with ``--json``), then a summary."""
    dlq = topic_set(settings, find_spec(args.topic)).dlq
    with Scan(settings, dlq, _selection(args)) as scan:
        for letter in scan:
            print(_as_json(letter) if args.json else _line(letter))
    print(_summary("listed", scan), file=sys.stderr if args.json else sys.stdout)
    return 0


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Re-send matching dead letters not yet replayed with these criteria; print a summary.

    With ``--dry-run`` print each that would move and send nothing. Exit 1
    when the broker refused a re-send, 130 after Ctrl-C.
    """
    topics = topic_set(settings, find_spec(args.topic))
    progress = _ProgressBar() if sys.stderr.isatty() and not args.dry_run else None
    replay = Replay(
        settings,
        topics,
        cursor=cursor_group(settings, args.topic, _criteria(args)),
        selection=_selection(args),
        from_start=args.from_start,
        dry_run=args.dry_run,
        on_progress=progress,
    )
    shown = (lambda letter: print(f"would replay  {_line(letter)}")) if args.dry_run else None
    counts = replay.run(on_move=shown)
    if progress is not None:
        progress.clear()
    print(_replay_summary(counts, replay, topics.main, dry_run=args.dry_run))
    if counts.interrupted:
        return INTERRUPTED
    return 1 if counts.failed else 0


def _replay_summary(counts: ReplayCounts, replay: Replay, main: str, *, dry_run: bool) -> str:
    verb = "would move" if dry_run else "moved"
    text = (
        f"{verb} {counts.moved} to {main}, skipped by filter {counts.skipped}, "
        f"failed {counts.failed}; read {counts.read} dead letters from {replay.scan.topic}"
    )
    if replay.scan.limited:
        text += f" (stopped at --limit {replay.scan.matched})"
    if counts.interrupted:
        text += " (interrupted: run again to go on)"
    return text + (" (dry run: nothing sent)" if dry_run else "")


class _ProgressBar:
    """Redraws one line on stderr: a bar of read / total and the counts so far."""

    def __call__(self, counts: ReplayCounts) -> None:
        total = max(counts.total, 1)
        filled = BAR_WIDTH * min(counts.read, total) // total
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        sys.stderr.write(
            f"\r[{bar}] {counts.read}/{counts.total}  moved {counts.moved}  "
            f"skipped {counts.skipped}  failed {counts.failed}"
        )
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


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
