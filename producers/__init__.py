"""Publishing events: the API for Python services, the ``produce`` CLI, DLQ replay."""

from producers.publisher import Delivered, Publisher, PublishError

__all__ = ["Delivered", "PublishError", "Publisher"]
