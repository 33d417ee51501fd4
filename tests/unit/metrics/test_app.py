"""The metrics worker's composition root: ``build_app`` wires the three agents to their topics, no broker needed."""

from __future__ import annotations

from services.metrics.app import build_app
from services.metrics.settings import MetricsSettings
from shared import topics


def test_the_worker_consumes_routed_calls_case_events_and_programme_updates() -> None:
    app = build_app(MetricsSettings())
    assert app.conf.id == "hotline-metrics"
    consumed = {name: agent.channel.get_topic_name() for name, agent in app.agents.items()}
    assert consumed == {
        "metrics-store-routed": topics.CALLS_ROUTED,
        "metrics-store-case-events": topics.CASES_EVENTS,
        "metrics-store-programme-events": topics.PROGRAMME_EVENTS,
    }
