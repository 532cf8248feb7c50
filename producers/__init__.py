"""Publishing events: the API for Python services, the ``produce`` CLI, DLQ replay.

Imports neither ``consumers`` nor the database, so any service can use it.
"""

from producers.publisher import Delivered, InvalidEventError, Publisher, PublishError

__all__ = ["Delivered", "InvalidEventError", "PublishError", "Publisher"]
