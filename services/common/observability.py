"""What every Hotline process exposes to the people who run it: Prometheus metrics and truthful readiness.

One module, so every series is named once (``docs/operations.md`` lists them with the alerts built on them):

- HTTP services (intake, metrics read API, console): ``instrument_http(app, service)`` adds
  prometheus-fastapi-instrumentator's request counts and latency histograms and serves ``/metrics``;
- faust workers (classifier, router, metrics): ``instrument_worker(app, service, settings)`` turns on faust's
  own web server with faust's Prometheus sensors (messages in, commit latency, rebalances,
  committed and end offsets) at ``/metrics``, adds the consumer lag per group, topic and partition, and
  ``/readyz``: 200 only once the worker's consumer has joined its group, holds an assignment of every topic
  its agents read, and is not rebalancing;
- the batch loop (``services.common.streaming``) counts events processed and dead-lettered per agent and
  observes each hop's latency (from the event's ``occurred_at`` to the end of its batch); ``publish`` counts the
  messages the broker acknowledged per topic;
- PyMongo's command monitoring observes every database operation's latency (``DatabaseLatency``).

All series live in prometheus_client's default registry, served as prometheus_client renders it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from pymongo import monitoring

if TYPE_CHECKING:
    import faust
    from fastapi import FastAPI
    from prometheus_fastapi_instrumentator.metrics import Info

    from shared.events import Classification
    from shared.settings import WorkerSettings

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

EVENTS_PROCESSED = Counter(
    "hotline_events_processed_total", "Events an agent took off its topic and processed.", ["service", "agent"]
)
DEAD_LETTERS = Counter(
    "hotline_dead_letters_total",
    "Messages an agent sent to hotline.deadletter.v1, by why (invalid: did not parse; refused: a step said no).",
    ["service", "agent", "kind"],
)
MESSAGES_PUBLISHED = Counter(
    "hotline_messages_published_total",
    "Messages a process published and the broker acknowledged (acks=all), by topic (services.common.streaming.publish).",
    ["topic"],
)
HOP_LATENCY = Histogram(
    "hotline_hop_latency_seconds",
    "From an event's occurred_at to the end of the batch that processed it, per agent (one hop of the pipeline).",
    ["service", "agent"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "hotline_consumer_lag",
    "Messages on a partition past its consumer group's committed offset (end offset - committed offset).",
    ["group", "topic", "partition"],
)
CONSUMER_COMMITTED = Gauge(
    "hotline_consumer_committed_offset", "The group's committed offset on a partition.", ["group", "topic", "partition"]
)
WORKER_READY = Gauge(
    "hotline_worker_ready", "1 once the worker joined its group with every topic assigned.", ["service"]
)
DATABASE_LATENCY = Histogram(
    "hotline_database_operation_seconds",
    "MongoDB command latency as PyMongo's command monitoring saw it, by command and outcome.",
    ["service", "command", "outcome"],
    buckets=LATENCY_BUCKETS,
)
CALLS = Counter(
    "hotline_intake_calls_total",
    "Calls submitted to intake, by outcome (accepted, rejected) and reason (accepted, invalid, unauthorized, "
    "forbidden, conflict, too_large, broker_unavailable, ...); each call of a batch answered 200 counts.",
    ["outcome", "reason"],
)
CLASSIFIER_CONFIDENCE = Histogram(
    "hotline_classifier_confidence",
    "The classifier's calibrated confidence in each call's level-1 category.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
CLASSIFIER_DECISIONS = Counter(
    "hotline_classifier_decisions_total",
    "Calls classified, by whether they go to manual review (人工分拣).",
    ["manual_review"],
)
QUEUE_DEPTH = Gauge("hotline_queue_depth", "Open cases waiting in a unit's queue.", ["queue_id", "unit_kind"])
QUEUE_OVERDUE = Gauge("hotline_queue_overdue", "Overdue cases in a unit's queue.", ["queue_id", "unit_kind"])


CALL_REJECTION_REASONS = {
    401: "unauthorized",
    403: "forbidden",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    503: "broker_unavailable",
}


def count_call(status: int) -> None:
    """Count one call submission intake answered with ``status`` (2xx: accepted)."""
    if 200 <= status < 300:
        CALLS.labels("accepted", "accepted").inc()
    else:
        CALLS.labels("rejected", CALL_REJECTION_REASONS.get(status, f"http_{status}")).inc()


def observe_classifications(decisions: Iterable[Classification]) -> None:
    """The confidence of each decision and whether it goes to manual review."""
    for decision in decisions:
        CLASSIFIER_CONFIDENCE.observe(decision.confidence)
        CLASSIFIER_DECISIONS.labels("true" if decision.needs_review else "false").inc()


def set_queue_gauges(queues: Iterable[tuple[str, str, int, int]]) -> None:
    """``hotline_queue_depth`` and ``hotline_queue_overdue`` from (queue id, unit kind, depth, overdue)."""
    for queue_id, unit_kind, depth, overdue in queues:
        QUEUE_DEPTH.labels(queue_id, unit_kind).set(depth)
        QUEUE_OVERDUE.labels(queue_id, unit_kind).set(overdue)


def agent_name(default: str) -> str:
    """The name of the faust agent running this code (``default`` outside an agent)."""
    from faust.agents.agent import current_agent

    agent = current_agent()
    return str(agent.name) if agent is not None else default


def observe_batch(service: str, agent: str, occurred: Iterable[datetime]) -> None:
    """Count a processed batch and observe each event's hop latency."""
    now = datetime.now(UTC)
    processed = EVENTS_PROCESSED.labels(service, agent)
    latency = HOP_LATENCY.labels(service, agent)
    for moment in occurred:
        processed.inc()
        latency.observe(max(0.0, (now - moment).total_seconds()))


def count_dead_letters(service: str, agent: str, kind: str, count: int) -> None:
    if count:
        DEAD_LETTERS.labels(service, agent, kind).inc(count)


class DatabaseLatency(monitoring.CommandListener):
    """PyMongo command monitoring into ``hotline_database_operation_seconds`` (register once per process)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        DATABASE_LATENCY.labels(self.service, event.command_name, "ok").observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        DATABASE_LATENCY.labels(self.service, event.command_name, "failed").observe(event.duration_micros / 1e6)


_database_listener: list[str] = []


def monitor_database(service: str) -> None:
    """Observe every MongoDB command this process sends from now on (clients made after this call)."""
    if _database_listener:
        return
    _database_listener.append(service)
    monitoring.register(DatabaseLatency(service))


def instrument_http(
    app: FastAPI,
    service: str,
    *,
    before_scrape: Callable[[], Awaitable[None]] | None = None,
    extra: Sequence[Callable[[Info], None]] = (),
) -> None:
    """Request counts and latency histograms (prometheus-fastapi-instrumentator) and ``GET /metrics``.

    ``extra``: more instrumentations of each request (intake's calls accepted/rejected); ``before_scrape``
    refreshes gauges read from a store (the metrics read API's queue depths) just before the registry is rendered.
    """
    from fastapi import Response
    from prometheus_fastapi_instrumentator import Instrumentator
    from prometheus_fastapi_instrumentator import metrics as instrumentator_metrics

    monitor_database(service)
    instrumentator = Instrumentator(excluded_handlers=["/metrics", "/healthz", "/readyz"])
    instrumentator.add(instrumentator_metrics.default(latency_lowr_buckets=LATENCY_BUCKETS))
    for instrumentation in extra:
        instrumentator.add(instrumentation)
    instrumentator.instrument(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        if before_scrape is not None:
            try:
                await before_scrape()
            except Exception as exc:  # the scrape still answers with what it has
                log.warning("metrics refresh failed: %s: %s", type(exc).__name__, exc)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def worker_readiness(app: faust.App) -> tuple[bool, dict[str, Any]]:
    """Whether the worker consumes: its consumer joined the group, every topic its agents read is assigned
    (at least one partition of it), and no rebalance is under way."""
    wanted = {topic for agent in app.agents.values() for topic in getattr(agent.channel, "topics", ())}
    try:
        assigned = app.consumer.assignment()
    except Exception:
        assigned = set()
    topics = {tp.topic for tp in assigned}
    missing = sorted(wanted - topics)
    ready = bool(assigned) and not missing and not app.rebalancing
    return ready, {"assigned_partitions": len(assigned), "missing_topics": missing, "rebalancing": app.rebalancing}


def instrument_worker(app: faust.App, service: str, settings: WorkerSettings) -> None:
    """faust's web server on ``settings.web_port`` with ``/metrics`` (faust's Prometheus sensors and Hotline's
    series), ``/readyz`` and ``/healthz``; the consumer lag refreshed every ``lag_interval`` seconds."""
    from faust import web
    from faust.sensors.prometheus import setup_prometheus_sensors

    monitor_database(service)
    if settings.web_port is None:
        return
    app.conf.web_enabled = True
    app.conf.web_port = settings.web_port
    app.conf.web_bind = settings.web_host
    app.conf.web_host = settings.web_host
    setup_prometheus_sensors(app, name_prefix="faust")
    group = app.conf.id

    @app.page("/healthz")
    async def healthz(view: web.View, request: web.Request) -> web.Response:
        return view.json({"status": "alive"})

    @app.page("/readyz")
    async def readyz(view: web.View, request: web.Request) -> web.Response:
        ready, detail = worker_readiness(app)
        WORKER_READY.labels(service).set(1 if ready else 0)
        return view.json(
            {"status": "ready" if ready else "not ready", "group": group, **detail}, status=200 if ready else 503
        )

    @app.timer(5.0)
    async def refresh_lag() -> None:
        await update_consumer_lag(app, group)


# The (group, topic, partition) label sets this process last exported lag for.
_lag_exported: set[tuple[str, str, str]] = set()


async def update_consumer_lag(app: faust.App, group: str) -> None:
    """Set ``hotline_consumer_lag`` for every assigned partition from the broker's end offsets (ListOffsets), and
    drop the series of partitions this process no longer holds: after a rebalance another member reports them,
    and a frozen value here would add to its lag and read as a stalled consumer."""
    consumer = app.consumer
    assigned = consumer.assignment()
    held = {(group, tp.topic, str(tp.partition)) for tp in assigned}
    for labels in sorted(_lag_exported - held):
        _lag_exported.discard(labels)
        for gauge in (CONSUMER_LAG, CONSUMER_COMMITTED):
            try:
                gauge.remove(*labels)
            except KeyError:
                pass
    if not assigned:
        return
    try:
        ends = await consumer.highwaters(*assigned)
    except Exception as exc:
        log.debug("end offsets unavailable: %s", exc)
        return
    committed_offsets = getattr(consumer, "_committed_offset", {})
    for tp, end in ends.items():
        committed = committed_offsets.get(tp)
        labels = (group, tp.topic, str(tp.partition))
        if committed is not None:
            CONSUMER_COMMITTED.labels(*labels).set(committed)
        CONSUMER_LAG.labels(*labels).set(max(0, int(end) - int(committed if committed is not None else 0)))
        _lag_exported.add(labels)
