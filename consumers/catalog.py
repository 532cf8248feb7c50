"""The jobs this build can run, by command-line name.

Each job is imported only when it is run, so that commands which never
consume (``config``, ``produce``, ``dlq``) start without loading every job's
HTTP and database stack.
"""

from __future__ import annotations

from importlib import import_module

from consumers.job import Job

JOB_MODULES: dict[str, str] = {"webhook": "consumers.webhook.job"}
"""Every runnable job's name and the module whose ``JOB`` it is."""


def jobs_named(name: str) -> list[Job]:
    """The job called ``name``, or every job for ``all``.

    Raises:
        KeyError: no job has that name.
    """
    names = list(JOB_MODULES) if name == "all" else [name]
    return [import_module(JOB_MODULES[job]).JOB for job in names]
