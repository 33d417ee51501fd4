"""Hotline's shared contracts (event models, topic names) and settings. Pydantic only: no Kafka, no Mongo."""
