"""The metrics service: routed calls into MongoDB cases and counters, a read API and a queue page."""
