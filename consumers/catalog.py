"""The jobs this build can run, by command-line name."""

from __future__ import annotations

from consumers.job import Job
from consumers.webhook.job import JOB as WEBHOOK

JOBS: dict[str, Job] = {job.name: job for job in (WEBHOOK,)}
"""Every runnable job by name."""


def jobs_named(name: str) -> list[Job]:
    """The job called ``name``, or every job for ``all``.

    Raises:
        KeyError: no job has that name.
    """
    return list(JOBS.values()) if name == "all" else [JOBS[name]]
