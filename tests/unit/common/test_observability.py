"""The worker's readiness and the batch loop's series, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import pytest

from services.common import observability
from services.common.streaming import BatchHandler, create_app, raw_topic
from shared.events import CallReceived
from shared.settings import ServiceSettings, WorkerSettings
from tests import factories


class FakeConsumer:
    def __init__(self, assigned: set[Any]) -> None:
        self.assigned = assigned
        self.ends: dict[Any, int] = {}
        self._committed_offset: dict[Any, int] = {}

    def assignment(self) -> set[Any]:
        return self.assigned

    async def highwaters(self, *partitions: Any) -> dict[Any, int]:
        return {tp: self.ends[tp] for tp in partitions}


def _worker(topic_names: tuple[str, ...]) -> faust.App:
    app = create_app("unit-observability", ServiceSettings())
    for n, name in enumerate(topic_names):

        async def agent(stream: faust.StreamT) -> None:
            async for _ in stream:
                pass

        app.agent(raw_topic(app, name), name=f"agent-{n}")(agent)
    return app


def test_a_worker_is_ready_only_with_every_topic_assigned_and_no_rebalance(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _worker(("t.one", "t.two"))
    tp = faust.types.TP
    consumer = FakeConsumer(set())
    monkeypatch.setattr(type(app), "consumer", property(lambda self: consumer))
    assert observability.worker_readiness(app)[0] is False
    consumer.assigned = {tp("t.one", 0)}
    ready, detail = observability.worker_readiness(app)
    assert not ready and detail["missing_topics"] == ["t.two"]
    consumer.assigned = {tp("t.one", 0), tp("t.two", 3)}
    assert observability.worker_readiness(app)[0] is True
    app.rebalancing = True
    assert observability.worker_readiness(app)[0] is False


def test_a_worker_serves_its_pages_only_with_a_port() -> None:
    without = create_app("unit-no-web", WorkerSettings())
    assert without.conf.web_enabled is False
    with_port = create_app("unit-web", WorkerSettings(web_port=18999))
    assert with_port.conf.web_enabled is True and with_port.conf.web_port == 18999


def _sample(name: str, **labels: str) -> float:
    return observability.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_batch_loop_counts_processed_dead_lettered_and_hop_latency() -> None:
    sent: list[Any] = []

    async def send(dead: Any) -> None:
        sent.extend(dead)

    async def apply(items: Any) -> list[Any]:
        return []

    handler = BatchHandler("unit-svc", CallReceived, apply, send)
    event = factories.received(factories.call(received_at=datetime.now(UTC)))
    event = event.model_copy(update={"occurred_at": datetime.now(UTC) - timedelta(seconds=2)})

    class Record:
        def __init__(self, value: bytes, offset: int) -> None:
            self.value = value
            self.message = type(
                "M", (), {"value": value, "key": b"k", "topic": "t", "partition": 0, "offset": offset}
            )()

    before = _sample("hotline_events_processed_total", service="unit-svc", agent="unit-svc")
    invalid_before = _sample("hotline_dead_letters_total", service="unit-svc", agent="unit-svc", kind="invalid")
    slow_before = _sample("hotline_hop_latency_seconds_bucket", service="unit-svc", agent="unit-svc", le="1.0")
    await handler([Record(event.to_bytes(), 1), Record(b"not json", 2)])  # type: ignore[list-item]
    assert _sample("hotline_events_processed_total", service="unit-svc", agent="unit-svc") == before + 1
    assert (
        _sample("hotline_dead_letters_total", service="unit-svc", agent="unit-svc", kind="invalid")
        == invalid_before + 1
    )
    # the event is 2 s old: its hop latency is not in the 1 s bucket
    assert _sample("hotline_hop_latency_seconds_bucket", service="unit-svc", agent="unit-svc", le="1.0") == slow_before
    assert len(sent) == 1


def test_intake_counts_calls_by_outcome_and_reason() -> None:
    accepted = _sample("hotline_intake_calls_total", outcome="accepted", reason="accepted")
    refused = _sample("hotline_intake_calls_total", outcome="rejected", reason="broker_unavailable")
    observability.count_call(202)
    observability.count_call(503)
    assert _sample("hotline_intake_calls_total", outcome="accepted", reason="accepted") == accepted + 1
    assert _sample("hotline_intake_calls_total", outcome="rejected", reason="broker_unavailable") == refused + 1


async def test_the_lag_is_end_minus_committed_and_a_revoked_partition_stops_being_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a rebalance the partition's new member reports it; a frozen value left here would add to its lag
    (and, with nothing new to commit, read as HotlineConsumerStalled)."""
    app = _worker(("t.lag",))
    tp = faust.types.TP
    one, two = tp("t.lag", 0), tp("t.lag", 1)
    consumer = FakeConsumer({one, two})
    consumer.ends = {one: 120, two: 40}
    consumer._committed_offset = {one: 100}
    monkeypatch.setattr(type(app), "consumer", property(lambda self: consumer))

    def sample(name: str, partition: int) -> float | None:
        return observability.REGISTRY.get_sample_value(
            name, {"group": "unit-lag", "topic": "t.lag", "partition": str(partition)}
        )

    await observability.update_consumer_lag(app, "unit-lag")
    assert (sample("hotline_consumer_lag", 0), sample("hotline_consumer_committed_offset", 0)) == (20, 100)
    assert (sample("hotline_consumer_lag", 1), sample("hotline_consumer_committed_offset", 1)) == (40, None)
    consumer.assigned = {two}  # partition 0 went to another member
    await observability.update_consumer_lag(app, "unit-lag")
    assert (sample("hotline_consumer_lag", 0), sample("hotline_consumer_committed_offset", 0)) == (None, None)
    assert sample("hotline_consumer_lag", 1) == 40
    consumer.assigned = set()
    await observability.update_consumer_lag(app, "unit-lag")
    assert sample("hotline_consumer_lag", 1) is None


def test_the_classifier_observes_each_confidence_and_whether_it_goes_to_manual_review() -> None:
    """The dashboard's confidence distribution and share sent to 人工分拣 read these two series."""
    low_before = _sample("hotline_classifier_confidence_bucket", le="0.5")
    count_before = _sample("hotline_classifier_confidence_count")
    review_before = _sample("hotline_classifier_decisions_total", manual_review="true")
    sure_before = _sample("hotline_classifier_decisions_total", manual_review="false")
    observability.observe_classifications(
        [
            factories.classification(confidence=0.42, needs_review=True),
            factories.classification(confidence=0.97),
            factories.classification(confidence=0.91),
        ]
    )
    assert _sample("hotline_classifier_confidence_count") == count_before + 3
    assert _sample("hotline_classifier_confidence_bucket", le="0.5") == low_before + 1
    assert _sample("hotline_classifier_decisions_total", manual_review="true") == review_before + 1
    assert _sample("hotline_classifier_decisions_total", manual_review="false") == sure_before + 2
