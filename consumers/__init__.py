"""Consumers: the runtime that runs jobs on Kafka, and one module per job.

The public surface for job authors is ``Job``, ``Context`` and the two
errors a handler raises; ``Runner`` runs jobs in a process.
"""

from consumers.job import Context, Handler, Job
from consumers.runtime.runner import Runner
from streamjobs.errors import FatalError, RetryableError

__all__ = ["Context", "FatalError", "Handler", "Job", "RetryableError", "Runner"]
