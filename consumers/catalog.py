"""The jobs this build can run, by command-line name.

Each job is imported only when it is run, so that commands which never
consume (``config``, ``produce``, ``dlq``) start without loading every job's
HTTP and database stack. Adding a job is one line here.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, NamedTuple

from consumers.job import Job


class CatalogEntry(NamedTuple):
    """Where a job lives, and what the command line says of it before loading it.

    Args:
        module: the module whose ``JOB`` is the job.
        concurrency: its ``Job.concurrency``, for ``consume --help`` (a test
            keeps the two equal).
    """

    module: str
    concurrency: int


CATALOG: dict[str, CatalogEntry] = {
    "webhook": CatalogEntry("consumers.webhook.job", 100),
    "email": CatalogEntry("consumers.email.job", 4),
    "email-batch": CatalogEntry("consumers.email.batch", 2),
    "cleanup": CatalogEntry("consumers.cleanup.job", 1),
}
"""Every runnable job, by name."""

JOB_NAMES: tuple[str, ...] = tuple(CATALOG)
"""The names ``streamjobs consume`` takes, besides ``all``."""


def load_job(name: str) -> Job[Any]:
    """Import the job called ``name`` and return its ``JOB``.

    Raises:
        KeyError: no job has that name.
    """
    job: Job[Any] = import_module(CATALOG[name].module).JOB
    return job


def jobs_named(name: str) -> list[Job[Any]]:
    """The job called ``name``, or every job for ``all``.

    Raises:
        KeyError: no job has that name.
    """
    return [load_job(job) for job in (JOB_NAMES if name == "all" else [name])]
