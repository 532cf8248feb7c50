"""The exception hierarchy of streamjobs: every exception class of the project.

::

    StreamjobsError                  streamjobs.errors
    +-- ConfigError                  a setting or command-line value is malformed (exit 2)
    +-- ServiceUnavailable           the broker or the database did not answer or let us in
    +-- OperationRefused             a service answered but refused or failed an operation
    +-- PublishError                 producers.publisher: the broker did not confirm an event
    +-- InvalidEventError            producers.publisher: an event fails its topic's model
    |                                (also a ValueError)
    +-- KafkaUnavailableError        streamjobs.status: the broker did not answer in time
    +-- DlqReadError                 producers.dlq: a dead-letter topic was not delivered in time
    +-- WebhookClientError           consumers.webhook.http1: a POST got no usable answer
    |   +-- AnswerError              consumers.webhook.http1: the answer broke HTTP/1.1 or broke off
    |   +-- InvalidURLError          consumers.webhook.client: the endpoint URL cannot be sent to
    |   +-- HostNotFoundError        consumers.webhook.client: the host name did not resolve
    |   +-- ConnectFailedError       consumers.webhook.client: no address took the connection
    +-- JobError                     raised by a job handler; decides the message's fate
        +-- RetryableError           try again later, through the next delay topic
        +-- FatalError               never retry: straight to the dead-letter topic
            +-- BlockedTargetError   consumers.webhook.guard: the network guard refused a target
            +-- WebhookDisabledError consumers.webhook.endpoints: the endpoint is disabled

    RuntimeError
    +-- ServiceUnavailableError      tests.services: Kafka or PostgreSQL is not there (tests only)

A handler's failure carries a ``code``: the runtime's own are in
``consumers/runtime/codes.py``, each job's in ``consumers/<job>/codes.py``.
The command line turns ``ConfigError`` into exit 2 and every other
``StreamjobsError`` into exit 1, with one line.
"""

from __future__ import annotations


class StreamjobsError(Exception):
    """Base class of every error streamjobs raises on purpose."""


class ConfigError(StreamjobsError):
    """A setting or a command-line value is malformed; the message says which."""


class ServiceUnavailable(StreamjobsError):  # noqa: N818 (reads as a state, like httpx's)
    """A service did not answer in time, or would not let us in.

    The message names the service and its address, never a credential.

    Args:
        service: what did not answer, such as ``Kafka`` or ``PostgreSQL``.
        address: where it was expected, credentials removed.
        cause: why, in a few words (``connection refused``).
    """

    def __init__(self, service: str, address: str, cause: str) -> None:
        super().__init__(f"{service} at {address}: {cause}")
        self.service = service
        self.address = address


class OperationRefused(StreamjobsError):  # noqa: N818 (reads as an outcome)
    """A service answered but did not do what was asked; the message says what and why."""


class JobError(StreamjobsError):
    """A handler failed; the subclass says whether another attempt can help.

    Args:
        message: what went wrong, for a person; never a secret or a payload.
        code: a short machine-readable code such as ``E_TIMEOUT``.
        http_status: the HTTP status that caused the failure, if any.
    """

    def __init__(
        self, message: str, *, code: str | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status


class RetryableError(JobError):
    """A transient failure: the next attempt goes through a delay topic.

    Args:
        retry_after: seconds the remote side asked us to wait; it raises the
            delay of the next attempt (clamped by ``RETRY_AFTER_MAX``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.retry_after = retry_after


class FatalError(JobError):
    """A permanent failure: the message goes to the dead-letter topic at once."""
