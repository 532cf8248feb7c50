"""The scheduler: publishes the daily ``audit.cleanup`` event and serves the manual trigger.

It only publishes (through ``producers``); the cleanup itself is the
``consumers.cleanup`` job. Several schedulers may run at once: the event id
of a slot is deterministic and the consumer runs each slot once.
"""
