"""``streamjobs status``: per job its group, lag and DLQ; the last and next cleanup.

``--watch SECONDS`` redraws the report until Ctrl-C; ``--check`` exits 1 when
a job has lag but no members, or a DLQ grew since the previous ``--check``
(whose high watermarks it keeps in ``--state-file``), for monitoring scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from streamjobs.settings import Settings
from streamjobs.status import (
    KAFKA_TIMEOUT,
    TOPICS_HINT,
    JobStatus,
    KafkaUnavailableError,
    LastCleanup,
    Member,
    Status,
    TopicLag,
    gather,
)

COLUMNS = ("job", "group", "state", "members", "lag main", "lag retries", "dlq", "oldest dlq")
"""Headings of the text table, one row per job."""

MISSING = "missing"
"""What a cell shows for a topic that does not exist yet."""

CHECK_FAILED = 1
"""Exit status of ``--check`` when a job is stalled or a DLQ grew."""

CLEAR_SCREEN = "\033[H\033[2J"
"""Moves the cursor home and clears a terminal, before each ``--watch`` redraw."""


def default_state_file() -> Path:
    """Where ``--check`` keeps what it saw: ``$XDG_STATE_HOME/streamjobs/status-check.json``."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "streamjobs" / "status-check.json"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``status`` command."""
    command = commands.add_parser(
        "status",
        help="lag per group, DLQ depth, last cleanup",
        description=(
            "For each job: its consumer group's state and members, the lag of its main and "
            "delay topics and the depth of its DLQ; then the newest cleanup run. Joins no group."
        ),
    )
    command.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    command.add_argument(
        "--timeout",
        type=float,
        default=KAFKA_TIMEOUT,
        metavar="SECONDS",
        help=f"give up when the broker has not answered (default {KAFKA_TIMEOUT:g})",
    )
    mode = command.add_mutually_exclusive_group()
    mode.add_argument(
        "--watch",
        type=_interval,
        metavar="SECONDS",
        help="redraw every SECONDS until Ctrl-C",
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a job has lag and no members, or a DLQ grew since the last --check",
    )
    command.add_argument(
        "--state-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="where --check remembers the DLQs (default: $XDG_STATE_HOME/streamjobs/...)",
    )
    command.set_defaults(run=run_status)


def _interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds >= 0.1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds of at least 0.1")
    return seconds


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    """Print the status (a table, or JSON with ``--json``); 1 when Kafka does not answer."""
    try:
        if args.watch is not None:
            return _watch(args, settings)
        status = gather(settings, timeout=args.timeout)
    except KafkaUnavailableError as exc:
        print(f"streamjobs: error: {exc}", file=sys.stderr)
        return 1
    problems = _check(status, args.state_file or default_state_file()) if args.check else []
    if args.json:
        shown = as_json(status) | ({"problems": problems} if args.check else {})
        print(json.dumps(shown, indent=2))
    else:
        print("\n".join([as_text(status), *(f"check: {problem}" for problem in problems)]))
    return CHECK_FAILED if problems else 0


def _watch(args: argparse.Namespace, settings: Settings) -> int:
    redraw = CLEAR_SCREEN if sys.stdout.isatty() else ""
    try:
        while True:
            status = gather(settings, timeout=args.timeout)
            shown = json.dumps(as_json(status)) if args.json else as_text(status)
            print(redraw + shown, flush=True)
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0


def problems_of(status: Status, seen: dict[str, int]) -> list[str]:
    """Why a monitor should page: stalled jobs, and DLQs past their ``seen`` ends.

    Args:
        status: the report.
        seen: dead letters ever written per DLQ topic at the previous check;
            a DLQ not in it is seen for the first time and counts as no growth.
    """
    problems = [
        f"{job.job}: lag {job.lag} and no members in {job.group}"
        for job in status.jobs
        if job.stalled
    ]
    problems += [
        f"{job.job}: {job.dlq_end - seen[job.dlq.topic]} new dead letters in {job.dlq.topic}"
        for job in status.jobs
        if job.dlq.topic in seen and job.dlq_end > seen[job.dlq.topic]
    ]
    return problems


def _check(status: Status, state_file: Path) -> list[str]:
    """``problems_of`` against the state file, which then remembers this report's DLQs."""
    try:
        seen: dict[str, int] = json.loads(state_file.read_text())
    except (OSError, ValueError):
        seen = {}  # the first check, or an unreadable file: a new baseline
    problems = problems_of(status, seen)
    seen |= {job.dlq.topic: job.dlq_end for job in status.jobs if not job.dlq.missing}
    state_file.parent.mkdir(parents=True, exist_ok=True)
    scratch = state_file.with_suffix(".tmp")
    scratch.write_text(json.dumps(seen, indent=2, sort_keys=True))
    scratch.replace(state_file)  # atomic: a concurrent check never reads half a file
    return problems


def as_json(status: Status) -> dict[str, Any]:
    """``status`` as one JSON-ready object."""
    return {
        "taken_at": _iso(status.taken_at),
        "jobs": [_job_json(job) for job in status.jobs],
        "missing_topics": status.missing,
        "hint": TOPICS_HINT if status.missing else None,
        "last_cleanup": _cleanup_json(status.last_cleanup),
        "next_cleanup": _iso(status.next_cleanup),
    }


def _job_json(job: JobStatus) -> dict[str, Any]:
    return {
        "job": job.job,
        "group": job.group,
        "state": job.state,
        "members": [_member_json(member) for member in job.members],
        "lag": {"main": job.main.messages, "retries": job.retries_lag},
        "topics": [_topic_json(t) for t in (job.main, *job.retries)],
        "dlq": _topic_json(job.dlq) | {"oldest_at": _iso(job.oldest_dead_letter_at)},
    }


def _member_json(member: Member) -> dict[str, Any]:
    return {"client_id": member.client_id, "host": member.host, "partitions": member.partitions}


def _topic_json(topic: TopicLag) -> dict[str, Any]:
    return {"topic": topic.topic, "messages": topic.messages, "missing": topic.missing}


def _cleanup_json(cleanup: LastCleanup) -> dict[str, Any]:
    return {
        "state": cleanup.state,
        "scheduled_for": _iso(cleanup.scheduled_for),
        "outcome": cleanup.outcome,
        "finished_at": _iso(cleanup.finished_at),
        "result": cleanup.result,
        "error": cleanup.error,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def as_text(status: Status) -> str:
    """``status`` as an aligned table, a missing-topics hint and a last-cleanup line."""
    rows = [COLUMNS, *(_row(job, status.taken_at) for job in status.jobs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines = [line.rstrip() for line in lines]
    lines += [
        f"  {job.job} member {member.client_id}@{member.host}: "
        + (", ".join(member.partitions) or "no partitions")
        for job in status.jobs
        for member in job.members
    ]
    if status.missing:
        lines.append(f"{len(status.missing)} topics missing; {TOPICS_HINT}")
    lines.append(f"last cleanup: {_cleanup_text(status.last_cleanup)}")
    lines.append(f"next cleanup: {_iso(status.next_cleanup)}")
    return "\n".join(lines)


def _row(job: JobStatus, taken_at: datetime) -> tuple[str, ...]:
    return (
        job.job,
        job.group,
        job.state,
        str(len(job.members)),
        _count(job.main.messages),
        _count(job.retries_lag),
        _count(job.dlq.messages),
        _age(job.oldest_dead_letter_at, taken_at),
    )


def _age(moment: datetime | None, now: datetime) -> str:
    """``moment`` as an age such as ``3d4h``, ``2h5m``, ``40s``; ``-`` for none."""
    if moment is None:
        return "-"
    seconds = max(int((now - moment).total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def _count(messages: int | None) -> str:
    return MISSING if messages is None else str(messages)


def _cleanup_text(cleanup: LastCleanup) -> str:
    if cleanup.state != "ran":
        return cleanup.error or cleanup.state
    finished = _iso(cleanup.finished_at) or "not finished"
    result = "" if cleanup.result is None else f", result {json.dumps(cleanup.result)}"
    return (
        f"scheduled for {_iso(cleanup.scheduled_for)}, outcome {cleanup.outcome or '-'}, "
        f"finished {finished}{result}"
    )
