"""Error codes the runtime itself raises, before a job's handler sees the message.

A job's own codes live in its package (``consumers/<job>/codes.py``).
"""

from __future__ import annotations

E_TOMBSTONE = "E_TOMBSTONE"
"""The message has no value (a tombstone), so no event (fatal)."""

E_TOO_LARGE = "E_TOO_LARGE"
"""The message value is over ``MAX_MESSAGE_BYTES`` and is not read (fatal)."""

E_INVALID_EVENT = "E_INVALID_EVENT"
"""The value is not UTF-8, not JSON, not an object, or invalid for the topic's model (fatal)."""
