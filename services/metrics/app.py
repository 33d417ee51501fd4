"""The metrics worker's composition root: ``build_app(settings)`` builds the faust app and the store (its
MongoDB client created on the worker's event loop on first use) and wires them into the agents and timers.

The settings are read once, by ``__main__``, and passed in; nothing below reads the environment.
"""

from __future__ import annotations

import faust

from services.common.streaming import create_app
from services.metrics.agent import SERVICE, RepositoryHolder, register_agents
from services.metrics.settings import MetricsSettings


def build_app(settings: MetricsSettings) -> faust.App:
    """The metrics worker: routed calls, case events and programme updates into the metrics store, plus its timers."""
    app = create_app(SERVICE, settings)
    register_agents(app, settings, store=RepositoryHolder(settings))
    return app
