"""A fake Resend API: a real HTTP server on 127.0.0.1 speaking ``POST /emails`` and
``POST /emails/batch`` as documented (https://resend.com/docs/api-reference).

It checks ``Authorization``, validates like Resend (422 ``validation_error``
with Resend's error body; ``x-batch-validation: permissive`` queues the valid
emails of a batch and lists the others under ``errors``), enforces a rate
limit (429 ``rate_limit_exceeded`` with ``retry-after`` and the
``ratelimit-*`` headers), answers a used-up quota with the daily or monthly
429, implements idempotency keys (same key and payload: the same answer,
nothing sent again; another payload: 409 ``invalid_idempotent_request``;
still in progress: 409 ``concurrent_idempotent_requests``), and records
every request and every email it accepted. Faults can be scripted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "re_test_key"
"""The key the fake accepts."""

BATCH_MAX = 100
"""Most emails in one batch request."""

_ADDRESS = re.compile(r"^(?:[^<>]*<)?[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>?$")


@dataclass(frozen=True)
class Arrival:
    """One request as it arrived."""

    at: float
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Fault:
    """A scripted answer, used ``times`` times for requests ``matches`` accepts (all by default)."""

    status: int
    name: str
    message: str = "scripted"
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    matches: Callable[[Arrival], bool] = lambda _arrival: True


def error_body(status: int, name: str, message: str) -> dict[str, Any]:
    """Resend's error body."""
    return {"statusCode": status, "name": name, "message": message}


def problem_of(email: Any, *, in_batch: bool) -> str | None:
    """What Resend would refuse in ``email``, or None."""
    if not isinstance(email, dict):
        return "Invalid email: expected an object"
    if in_batch:
        for name in ("attachments", "scheduled_at"):
            if name in email:
                return f"The `{name}` field is not supported in batch emails."
    for name in ("from", "to", "subject"):
        if not email.get(name):
            return f"Missing `{name}` field."
    if not (email.get("html") or email.get("text")):
        return "Missing `html` or `text` field."
    recipients = email["to"] if isinstance(email["to"], list) else [email["to"]]
    if len(recipients) > 50:
        return "Invalid `to` field. The maximum number of recipients is 50."
    for name in ("from", "to", "cc", "bcc", "reply_to"):
        values = email.get(name) or []
        for value in values if isinstance(values, list) else [values]:
            if not isinstance(value, str) or not _ADDRESS.match(value.strip()):
                return (
                    f"Invalid `{name}` field. The email address needs to follow the "
                    "`email@example.com` or `Name <email@example.com>` format."
                )
    return None


class FakeResend:
    """The fake API; run it with ``serving()``.

    Args:
        rate: requests accepted per ``window`` seconds, counted at arrival
            over a sliding window; None for no limit.
        window: seconds of the rate window (1).
        delay: seconds each request takes to answer.

    Attributes:
        arrivals: every request, in order of arrival.
        sent: every email accepted (replays of an idempotency key excluded),
            with the ``id`` it was given.
        faults: scripted answers, tried in order before anything else.
        quota: ``daily_quota_exceeded`` or ``monthly_quota_exceeded`` to refuse
            every request with that 429, None to accept.
        rejected_addresses: addresses Resend refuses although they are well formed.
    """

    def __init__(self, *, rate: int | None = None, window: float = 1.0, delay: float = 0.0):
        self.rate = rate
        self.window = window
        self.delay = delay
        self.arrivals: list[Arrival] = []
        self.sent: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.quota: str | None = None
        self.rejected_addresses: set[str] = set()
        self.rate_limited = 0
        self._recent: collections.deque[float] = collections.deque()
        self._answers: dict[str, tuple[str, int, Any]] = {}
        self._in_progress: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- answering -------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in request.headers.items()}
        arrival = Arrival(at, request.path, headers, body)
        status, answer, answer_headers = await self._answer(arrival, raw)
        self.arrivals.append(Arrival(at, arrival.path, headers, body, status))
        return web.json_response(answer, status=status, headers=answer_headers)

    async def _answer(self, arrival: Arrival, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        auth = arrival.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth == "Bearer None":
            return 401, error_body(401, "missing_api_key", "Missing API key"), {}
        if auth != f"Bearer {API_KEY}":
            return 403, error_body(403, "invalid_api_key", "API key is invalid"), {}
        limited = self._rate_limited(arrival.at)
        if limited is not None:
            return limited
        if self.quota is not None:
            message = "You have reached your quota."
            return 429, error_body(429, self.quota, message), {}
        for fault in self.faults:
            if fault.times > 0 and fault.matches(arrival):
                fault.times -= 1
                answer = error_body(fault.status, fault.name, fault.message)
                return fault.status, answer, fault.headers
        key = arrival.headers.get("idempotency-key")
        if key is None:
            return await self._process(arrival)
        fingerprint = f"{arrival.path} {raw!r}"
        if key in self._in_progress:
            message = "Same idempotency key used while the original request is still in progress."
            return 409, error_body(409, "concurrent_idempotent_requests", message), {}
        known = self._answers.get(key)
        if known is not None:
            if known[0] != fingerprint:
                message = "Same idempotency key used with a different request payload."
                return 409, error_body(409, "invalid_idempotent_request", message), {}
            return known[1], known[2], {}
        self._in_progress.add(key)
        try:
            status, answer, headers = await self._process(arrival)
        finally:
            self._in_progress.discard(key)
        if status < 300:
            self._answers[key] = (fingerprint, status, answer)
        return status, answer, headers

    def _rate_limited(self, at: float) -> tuple[int, Any, dict[str, str]] | None:
        if self.rate is None:
            return None
        while self._recent and self._recent[0] <= at - self.window:
            self._recent.popleft()
        if len(self._recent) < self.rate:
            self._recent.append(at)
            return None
        self.rate_limited += 1
        reset = max(self._recent[0] + self.window - at, 0.0)
        headers = {
            "ratelimit-limit": str(self.rate),
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(max(round(reset), 1)),
            "retry-after": str(max(round(reset), 1)),
        }
        message = "Too many requests. You can only make 2 requests per second."
        return 429, error_body(429, "rate_limit_exceeded", message), headers

    async def _process(self, arrival: Arrival) -> tuple[int, Any, dict[str, str]]:
        await asyncio.sleep(self.delay)
        if arrival.path == "/emails":
            problem = self._problem(arrival.body, in_batch=False)
            if problem is not None:
                return 422, error_body(422, "validation_error", problem), {}
            return 200, {"id": self._accept(arrival.body)}, {}
        if not isinstance(arrival.body, list) or not 1 <= len(arrival.body) <= BATCH_MAX:
            message = f"The batch must hold 1 to {BATCH_MAX} emails."
            return 422, error_body(422, "validation_error", message), {}
        problems = [self._problem(email, in_batch=True) for email in arrival.body]
        errors = [{"index": i, "message": problem} for i, problem in enumerate(problems) if problem]
        permissive = arrival.headers.get("x-batch-validation") == "permissive"
        if errors and not permissive:
            return 422, error_body(422, "validation_error", str(errors[0]["message"])), {}
        refused = {error["index"] for error in errors}
        data = [
            {"id": self._accept(email)} for i, email in enumerate(arrival.body) if i not in refused
        ]
        return 200, ({"data": data, "errors": errors} if permissive else {"data": data}), {}

    def _problem(self, email: Any, *, in_batch: bool) -> str | None:
        problem = problem_of(email, in_batch=in_batch)
        if problem is None and isinstance(email, dict):
            to = email["to"] if isinstance(email["to"], list) else [email["to"]]
            if self.rejected_addresses & set(to):
                return "Invalid `to` field. The address is on the suppression list."
        return problem

    def _accept(self, email: dict[str, Any]) -> str:
        email_id = str(uuid.uuid4())
        self.sent.append(email | {"id": email_id})
        return email_id

    # -- reading what arrived ---------------------------------------------

    def max_in_window(self, window: float = 1.0) -> int:
        """Most requests that arrived within any ``window`` seconds."""
        times = sorted(arrival.at for arrival in self.arrivals)
        most, start = 0, 0
        for end, at in enumerate(times):
            while times[start] <= at - window:
                start += 1
            most = max(most, end - start + 1)
        return most

    def sent_subjects(self) -> collections.Counter[str]:
        """How often each subject was accepted."""
        return collections.Counter(str(email["subject"]) for email in self.sent)

    # -- running ---------------------------------------------------------

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1; ``url`` says where."""
        app = web.Application()
        app.router.add_post("/emails", self._handle)
        app.router.add_post("/emails/batch", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()


@contextlib.contextmanager
def serving(fake: FakeResend) -> Iterator[FakeResend]:
    """Run ``fake`` on a loop in a thread of its own while the block runs."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-resend", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result()
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
