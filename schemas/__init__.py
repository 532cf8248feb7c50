"""Contracts shared by every part: the topic registry, event models, database tables."""
