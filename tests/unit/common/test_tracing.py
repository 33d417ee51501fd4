"""Tracing is off by default: no span context, no header, sends unchanged."""

from __future__ import annotations

from services.common import tracing
from shared.settings import ServiceSettings


def test_tracing_is_off_without_an_endpoint() -> None:
    assert ServiceSettings().otlp_endpoint is None
    assert tracing.setup_tracing("unit", None) is bool(tracing._configured)
    if tracing._configured:  # another test of this session turned it on: nothing more to check here
        return
    with tracing.producing("hotline.calls.received.v1", b"k") as headers:
        assert headers == []
    assert tracing.headers_for_key(b"k", [("x", b"1")]) == [("x", b"1")]
    with tracing.consuming("unit", "agent", []):
        assert tracing.headers_for_key(b"k") is None


def test_headers_round_trip_a_span_context() -> None:
    carrier = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    context = tracing.context_of(carrier)
    from opentelemetry import trace

    span_context = trace.get_current_span(context).get_span_context()
    assert format(span_context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(span_context.span_id, "016x") == "b7ad6b7169203331"
