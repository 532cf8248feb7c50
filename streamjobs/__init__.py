"""streamjobs: background jobs on Kafka/Redpanda.

This package holds the shared plumbing (settings, logging, Sentry, database,
Kafka client configuration) and the ``streamjobs`` command line.
"""
