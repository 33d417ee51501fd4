"""Hotline's four services: intake, classifier, router, metrics. They couple to ``shared`` contracts only."""
