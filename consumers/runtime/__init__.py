"""The consumer runtime: poll loop, concurrency, offsets, retry and DLQ routing."""
