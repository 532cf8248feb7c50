"""Reading what a delivered message holds: its due time and its event.

Every way a message can be unusable (tombstone, too large, not UTF-8, not
JSON, not an object, invalid for the model) becomes a ``FatalError`` whose
message tells a person what to fix; pydantic's input values are left out of
it because they may hold secrets.
"""

from __future__ import annotations

import json
import time

from pydantic import BaseModel, ValidationError

from consumers.runtime.codes import E_INVALID_EVENT, E_TOMBSTONE, E_TOO_LARGE
from schemas import headers
from schemas.events import check_portable_json, describe_validation
from streamjobs.errors import FatalError


def not_before(received: dict[str, str]) -> float:
    """Epoch seconds before which the message must not be handled (0 if unset)."""
    try:
        return int(received.get(headers.NOT_BEFORE, "0")) / 1000
    except ValueError:
        return 0.0


def now_ms() -> int:
    """The current time in epoch milliseconds, rounded up.

    Rounding up keeps ``x-not-before`` (now plus the delay) from falling
    within the millisecond before the failure it follows: never early.
    """
    return -(-time.time_ns() // 1_000_000)


def decode_event(value: bytes | None, model: type[BaseModel], *, max_bytes: int) -> BaseModel:
    """Validate ``value`` as a JSON object of ``model``.

    Raises:
        FatalError: the value is unusable; the message says why.
    """
    if value is None:
        raise FatalError(
            "message has no value (a tombstone); expected a JSON object", code=E_TOMBSTONE
        )
    if len(value) > max_bytes:
        raise FatalError(
            f"message value is {len(value)} bytes; the limit is {max_bytes}", code=E_TOO_LARGE
        )
    try:
        # The model's validator itself: ``model_validate_json`` is a Python call
        # around it that cost a third as much as the validation of a small event.
        event: BaseModel = model.__pydantic_validator__.validate_json(value)
    except ValidationError as exc:
        # The fast path failed; parse step by step to say what is wrong.
        raise FatalError(_diagnose(value, model, exc), code=E_INVALID_EVENT) from None
    return event


def _diagnose(value: bytes, model: type[BaseModel], fast: ValidationError) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"message value is not valid UTF-8 (byte {exc.start})"
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"message value is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except (ValueError, RecursionError):
        # Nested too deep or a number too long for Python: the fast parser says where.
        return f"message value is not usable JSON: {_json_problem(fast)}"
    if not isinstance(parsed, dict):
        return f"message value must be a JSON object, got {type(parsed).__name__}"
    try:
        model.model_validate(parsed)
    except ValidationError as exc:
        return f"invalid {model.__name__}: {describe_validation(exc)}"
    # Python's parser took what the fast one refused: most often a lone surrogate.
    for name, field in parsed.items():
        try:
            check_portable_json(field, path=str(name))
        except ValueError as exc:
            return f"invalid {model.__name__}: {exc}"
    return f"invalid {model.__name__}: {_json_problem(fast)}"


def _json_problem(error: ValidationError) -> str:
    """The fast parser's own words, such as ``recursion limit exceeded at line 1 column 285``."""
    problem = error.errors(include_input=False, include_url=False)[0]["msg"]
    return problem.removeprefix("Invalid JSON: ")
