"""The router agent's batch step: valid events are routed, poison messages become dead letters."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.router.agent import route_events
from shared import topics
from shared.catalogue import load_catalogue
from shared.events import CallClassified, utc_now
from shared.gazetteer import load_gazetteer
from tests import factories


@dataclass
class FakeMessage:
    value: bytes
    key: bytes | None
    topic: str = topics.CALLS_CLASSIFIED
    partition: int = 0
    offset: int = 0


@dataclass
class FakeEvent:
    value: bytes
    key: bytes | None = None
    message: FakeMessage = field(init=False)

    def __post_init__(self) -> None:
        self.message = FakeMessage(self.value, self.key)


def classified() -> CallClassified:
    return factories.classified(
        factories.call("B-1", body="小区垃圾堆了一周没人清", address="通州梨园地区云景里", received_at=utc_now()),
        factories.classification("城乡建设"),
    )


def test_batch_routes_valid_events_and_dead_letters_poison() -> None:
    good = classified()
    events = [FakeEvent(good.to_bytes(), good.key()), FakeEvent(b'{"not": "a call"}', b"poison"), FakeEvent(b"\xff")]
    routed, dead = route_events(events, load_catalogue(), load_gazetteer())  # type: ignore[arg-type]
    assert [r.call_id for r in routed] == [good.call_id]
    assert routed[0].assignment.queue_id == "street:通州区/梨园镇"
    assert routed[0].event_id != good.event_id  # derived, deterministic id
    assert [d.key for d in dead] == ["poison", None]
    assert all(d.service == "router" and d.source_topic == topics.CALLS_CLASSIFIED for d in dead)
    assert "invalid CallClassified" in dead[0].reason


def test_replayed_event_gets_the_same_routed_event_id() -> None:
    event = classified()
    first, _ = route_events([FakeEvent(event.to_bytes())], load_catalogue(), load_gazetteer())  # type: ignore[list-item]
    again, _ = route_events([FakeEvent(event.to_bytes())], load_catalogue(), load_gazetteer())  # type: ignore[list-item]
    assert first[0].event_id == again[0].event_id
