"""streamjobs: background jobs on Kafka/Redpanda.

This package holds the shared plumbing (errors, settings, logging), the
clients (Kafka, database, Sentry) and the surfaces (the ``streamjobs``
command line, the job view). It spans several layers of the project, whose
imports flow one way, from the bottom up (DESIGN.md "Layout"):

::

    streamjobs.cli | streamjobs.web                      the surfaces
    streamjobs.status                                    the status report they show
    consumers | scheduler                                runtime and jobs; the publisher
    producers                                            publish API, DLQ scan and replay
    streamjobs.kafka | streamjobs.database | .sentry     clients configured from settings
    schemas                                              topics, event models, tables
    streamjobs.errors : streamjobs.settings : .logs      plumbing, no project imports

A layer imports only the layers below it; ``|`` marks neighbours that never
import each other (the scheduler never imports ``consumers``), ``:`` ones
that may. Job packages (``consumers/webhook``, ``consumers/email``,
``consumers/cleanup``) never import each other. ``make lint`` enforces it
all with import-linter (the contracts are in ``pyproject.toml``).
"""
