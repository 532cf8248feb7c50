"""``streamjobs status``: lag per group, DLQ depth, last cleanup."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from streamjobs.settings import Settings
from streamjobs.status import (
    KAFKA_TIMEOUT,
    TOPICS_HINT,
    JobStatus,
    KafkaUnavailableError,
    LastCleanup,
    Status,
    TopicLag,
    gather,
)

COLUMNS = ("job", "group", "state", "members", "lag main", "lag retries", "dlq")
"""Headings of the text table, one row per job."""

MISSING = "missing"
"""What a cell shows for a topic that does not exist yet."""


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
    command.set_defaults(run=run_status)


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    """Print the status (a table, or JSON with ``--json``); 1 when Kafka does not answer."""
    try:
        status = gather(settings, timeout=args.timeout)
    except KafkaUnavailableError as exc:
        print(f"streamjobs: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(as_json(status), indent=2) if args.json else as_text(status))
    return 0


def as_json(status: Status) -> dict[str, Any]:
    """``status`` as one JSON-ready object."""
    return {
        "jobs": [_job_json(job) for job in status.jobs],
        "missing_topics": status.missing,
        "hint": TOPICS_HINT if status.missing else None,
        "last_cleanup": _cleanup_json(status.last_cleanup),
    }


def _job_json(job: JobStatus) -> dict[str, Any]:
    return {
        "job": job.job,
        "group": job.group,
        "state": job.state,
        "members": job.members,
        "lag": {"main": job.main.messages, "retries": job.retries_lag},
        "topics": [_topic_json(t) for t in (job.main, *job.retries)],
        "dlq": _topic_json(job.dlq),
    }


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
    rows = [COLUMNS, *(_row(job) for job in status.jobs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines = [line.rstrip() for line in lines]
    if status.missing:
        lines.append(f"{len(status.missing)} topics missing; {TOPICS_HINT}")
    lines.append(f"last cleanup: {_cleanup_text(status.last_cleanup)}")
    return "\n".join(lines)


def _row(job: JobStatus) -> tuple[str, ...]:
    return (
        job.job,
        job.group,
        job.state,
        str(job.members),
        _count(job.main.messages),
        _count(job.retries_lag),
        _count(job.dlq.messages),
    )


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
