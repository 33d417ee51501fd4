"""OpenTelemetry traces across the bus: one trace per call, from intake's publish through each agent to MongoDB.

Off by default. With ``HOTLINE_OTLP_ENDPOINT`` set (an OTLP/HTTP traces URL, e.g.
``http://otel-collector:4318/v1/traces``) a process installs the OpenTelemetry SDK's tracer provider with a
batching OTLP exporter, its resource named ``hotline-<service>``. Then:

- intake opens a PRODUCER span per event it publishes and puts the W3C trace context in the Kafka message's
  headers (``traceparent``, ``tracestate``: ``shared.topics.TRACE_HEADERS``);
- the batch loop (``services.common.streaming``) opens a CONSUMER span per message, the child of the context
  in its headers, and the topics made by ``raw_topic`` put the context of the message being processed
  (by key) in the headers of what the agent sends on; the batch's work runs in a span of its own, the child
  of the message's span when the batch holds one message (else linked to every message's span);
- every MongoDB command is a CLIENT span, the child of whatever span is current (PyMongo's command monitoring).

Without an endpoint the OpenTelemetry API's no-op tracer is used: no span is recorded, no header is sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind
from pymongo import monitoring

from shared.topics import TRACE_HEADERS

TRACER_NAME = "hotline"
Headers = list[tuple[str, bytes]]

# The spans of the messages of the batch being processed, by message key (what a send on looks up).
_batch_spans: ContextVar[dict[bytes, Span] | None] = ContextVar("hotline_batch_spans", default=None)
_configured: list[str] = []


def setup_tracing(service: str, otlp_endpoint: str | None, *, exporter: Any = None) -> bool:
    """Install the SDK's tracer provider exporting to ``otlp_endpoint`` (or to ``exporter``, tests); False when
    tracing stays off. Once per process."""
    if _configured or (otlp_endpoint is None and exporter is None):
        return bool(_configured)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"hotline-{service}"}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    monitoring.register(DatabaseSpans())
    _configured.append(service)
    return True


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def headers_of_current() -> Headers:
    """The current span's context as Kafka headers (empty when tracing is off)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items() if name in TRACE_HEADERS]


def context_of(headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None) -> otel_context.Context:
    """The trace context a message's headers carry (an empty context when they carry none)."""
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    carrier = {str(k): (v.decode() if isinstance(v, bytes | bytearray) else str(v)) for k, v in items}
    return propagate.extract(carrier)


@contextlib.contextmanager
def producing(topic: str, key: bytes | None) -> Iterator[Headers]:
    """A PRODUCER span for one message sent to ``topic``; yields the headers that carry it (none, and no span,
    when tracing is off: intake calls this for every call it accepts)."""
    if not _configured:
        yield []
        return
    with tracer().start_as_current_span(f"send {topic}", kind=SpanKind.PRODUCER) as span:
        span.set_attribute("messaging.system", "kafka")
        span.set_attribute("messaging.destination.name", topic)
        if key:
            span.set_attribute("messaging.kafka.message.key", key.decode("utf-8", "replace"))
        yield headers_of_current()


def headers_for_key(key: bytes | str | None, headers: Any = None) -> Any:
    """What an agent's send carries: the given headers, plus the trace context of the message being processed
    that has the same key (the call), when tracing is on."""
    spans = _batch_spans.get()
    if not spans or key is None:
        return headers
    span = spans.get(key.encode() if isinstance(key, str) else bytes(key))
    if span is None:
        return headers
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    traced = [(name, value.encode()) for name, value in carrier.items()]
    if headers is None:
        return traced
    existing = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    return existing + traced


@contextlib.contextmanager
def consuming(service: str, agent: str, records: Sequence[Any]) -> Iterator[None]:
    """CONSUMER spans for the messages of a batch (each the child of its headers' context), then a span for the
    batch's work, current while the block runs; the messages' spans are what sends on carry, by key."""
    if not _configured:
        yield
        return
    spans: dict[bytes, Span] = {}
    opened: list[Span] = []
    for record in records:
        message = getattr(record, "message", record)
        topic = str(getattr(message, "topic", ""))
        span = tracer().start_span(
            f"process {topic}", context=context_of(getattr(message, "headers", None)), kind=SpanKind.CONSUMER
        )
        span.set_attribute("messaging.system", "kafka")
        span.set_attribute("messaging.destination.name", topic)
        span.set_attribute("hotline.agent", agent)
        key = getattr(message, "key", None)
        if isinstance(key, bytes | bytearray):
            span.set_attribute("messaging.kafka.message.key", bytes(key).decode("utf-8", "replace"))
            spans[bytes(key)] = span
        opened.append(span)
    parent = trace.set_span_in_context(opened[0]) if len(opened) == 1 else None
    links = [Link(span.get_span_context()) for span in opened] if len(opened) > 1 else None
    token = _batch_spans.set(spans)
    try:
        with tracer().start_as_current_span(f"{agent} batch", context=parent, links=links) as batch:
            batch.set_attribute("hotline.service", service)
            batch.set_attribute("hotline.batch_size", len(opened))
            yield
    finally:
        _batch_spans.reset(token)
        for span in opened:
            span.end()


class DatabaseSpans(monitoring.CommandListener):
    """A CLIENT span per MongoDB command, the child of the span current when it was sent."""

    def __init__(self) -> None:
        self.open: dict[tuple[int, Any], Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        span = tracer().start_span(f"mongodb {event.command_name}", kind=SpanKind.CLIENT)
        span.set_attribute("db.system", "mongodb")
        span.set_attribute("db.name", event.database_name)
        span.set_attribute("db.operation", event.command_name)
        self.open[(event.request_id, event.connection_id)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        span = self.open.pop((event.request_id, event.connection_id), None)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        span = self.open.pop((event.request_id, event.connection_id), None)
        if span is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, str(event.failure)[:200]))
            span.end()
