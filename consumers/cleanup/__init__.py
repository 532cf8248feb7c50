"""The ``audit.cleanup`` job: delete old audit and system logs in short batches."""
