"""Topic names: dotted and versioned. A breaking change is a new model and a new topic (``.v2``)."""

from __future__ import annotations

CALLS_RECEIVED = "hotline.calls.received.v1"
CALLS_CLASSIFIED = "hotline.calls.classified.v1"
CALLS_ROUTED = "hotline.calls.routed.v1"
CASES_EVENTS = "hotline.cases.events.v1"
CASES_OVERDUE = "hotline.cases.overdue.v1"
ALERTS = "hotline.alerts.v1"
DEADLETTER = "hotline.deadletter.v1"
PROGRAMME_EVENTS = "hotline.programme.events.v1"

MAX_MESSAGE_BYTES = 256 * 1024
"""The largest message a Hotline consumer reads; larger ones are dead-lettered unparsed. The contracts' text
bounds keep every valid event far below it, and an event derived from one that fits (a call plus its
classification and assignment) stays below the producer's 1 MiB request limit."""

ALL_TOPICS: tuple[str, ...] = (
    CALLS_RECEIVED,
    CALLS_CLASSIFIED,
    CALLS_ROUTED,
    CASES_EVENTS,
    CASES_OVERDUE,
    ALERTS,
    DEADLETTER,
    PROGRAMME_EVENTS,
)

# Kafka headers a message may carry: the W3C trace context of the span that produced it (when tracing is on).
TRACE_HEADERS: tuple[str, ...] = ("traceparent", "tracestate")
