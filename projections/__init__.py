"""Kafka -> PostgreSQL read models, exactly once, replayable."""
