"""The batch step every agent runs (services.common.streaming.BatchHandler), on records made in memory:
what is dead-lettered with which reason, what is skipped, what is refused, what is retried, in which order."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest
from faust.types import TP, EventT
from faust.types.tuples import Message

from services.common.streaming import (
    BatchHandler,
    InvalidMessages,
    OffsetWatch,
    Received,
    dead_letter,
    dead_letter_for,
    dead_letter_of,
    is_transient,
    parse_batch,
)
from shared import topics
from shared.events import TOPIC_MODELS, DeadLetter, ProgrammeItemUpdated
from tests import factories, poison


def record(value: bytes, key: bytes | None = None, offset: int = 0) -> EventT:
    """A consumed record as an agent gets it: the value, and the message it came in."""
    message = Message(topics.PROGRAMME_EVENTS, 2, offset, 0.0, 0, None, key, value, None)
    return cast(EventT, SimpleNamespace(value=value, key=key, message=message))


def update(problem_id: str = "wage-arrears") -> ProgrammeItemUpdated:
    return factories.programme_update(problem_id=problem_id, actor="x")


@dataclass
class Recorder:
    """What a handler did, in order: ("dead", [reasons]) and ("apply", [problem ids])."""

    steps: list[tuple[str, list[str]]] = field(default_factory=list)
    failures_left: int = 0

    async def send_dead(self, dead: Sequence[DeadLetter]) -> None:
        self.steps.append(("dead", [d.reason for d in dead]))

    async def apply(self, batch: list[Received[ProgrammeItemUpdated]]) -> list[DeadLetter]:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("store down")
        self.steps.append(("apply", [item.value.problem_id for item in batch]))
        return [dead_letter_of("test", item.value, "refused by apply") for item in batch if item.value.item_id == "t9"]


def handler(recorder: Recorder, **options: object) -> BatchHandler[ProgrammeItemUpdated]:
    return BatchHandler(
        service="test",
        model=ProgrammeItemUpdated,
        apply=recorder.apply,
        send_dead_letters=recorder.send_dead,
        **options,  # type: ignore[arg-type]
    )


def test_poison_is_dead_lettered_before_the_valid_values_are_applied() -> None:
    recorder = Recorder()
    good = update()
    events = [record(good.to_bytes(), good.key()), record(b'{"not": "an update"}', b"poison", offset=7)]

    asyncio.run(handler(recorder)(events))

    assert [step for step, _ in recorder.steps] == ["dead", "apply", "dead"]
    assert recorder.steps[0][1][0].startswith("invalid ProgrammeItemUpdated: ")
    assert recorder.steps[1] == ("apply", ["wage-arrears"])
    assert recorder.steps[2] == ("dead", [])


def test_skipped_poison_is_not_dead_lettered_and_a_batch_without_valid_values_is_not_applied() -> None:
    recorder = Recorder()

    asyncio.run(handler(recorder, invalid=InvalidMessages.skip)([record(b"\xff")]))

    assert recorder.steps == [("dead", [])]


def test_refused_values_go_out_with_the_poison_and_are_not_applied() -> None:
    recorder = Recorder()
    keep, refuse = update(), update("no-such-problem")

    def refuse_unknown(event: ProgrammeItemUpdated) -> DeadLetter | None:
        return dead_letter_of("test", event, "unknown") if event.problem_id == "no-such-problem" else None

    events = [record(keep.to_bytes()), record(refuse.to_bytes()), record(b"{}")]
    asyncio.run(handler(recorder, refuse=refuse_unknown)(events))

    assert recorder.steps[0][1][1] == "unknown"
    assert recorder.steps[1] == ("apply", ["wage-arrears"])


def test_apply_is_retried_until_it_succeeds_and_its_dead_letters_are_sent_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_wait(_: float) -> None:
        return None

    monkeypatch.setattr("services.common.streaming.asyncio.sleep", no_wait)
    recorder = Recorder(failures_left=2)
    refused = update().model_copy(update={"item_id": "t9"})

    asyncio.run(handler(recorder, retry="apply updates")([record(refused.to_bytes())]))

    assert recorder.failures_left == 0
    assert recorder.steps == [("dead", []), ("apply", ["wage-arrears"]), ("dead", ["refused by apply"])]


def test_without_retry_a_failing_apply_raises() -> None:
    recorder = Recorder(failures_left=1)

    with pytest.raises(ConnectionError):
        asyncio.run(handler(recorder)([record(update().to_bytes())]))


def test_the_one_builder_keeps_the_bytes_the_key_and_a_bounded_reason() -> None:
    consumed = record(b"\x00raw", b"k\xff", offset=41)
    from_record = dead_letter_for("router", consumed, "x" * 3000)
    event = update()
    from_event = dead_letter_of("metrics", event, "not in the programme: no problem")

    assert (from_record.source_topic, from_record.partition, from_record.offset) == (topics.PROGRAMME_EVENTS, 2, 41)
    assert from_record.key == "k\ufffd"
    assert base64.b64decode(from_record.original_b64) == b"\x00raw"
    assert len(from_record.reason) == 2000
    assert (from_event.source_topic, from_event.key, from_event.partition) == (
        topics.PROGRAMME_EVENTS,
        "wage-arrears",
        None,
    )
    assert base64.b64decode(from_event.original_b64) == event.to_bytes()
    assert dead_letter("s", "r", source_topic="t", original=b"", key=None).key is None


@pytest.mark.parametrize("topic", poison.INPUT_TOPICS)
@pytest.mark.parametrize("kind", poison.KINDS)
def test_every_kind_of_poison_is_dead_lettered_with_its_reason(topic: str, kind: str) -> None:
    model = TOPIC_MODELS[topic]
    keyed = poison.messages(topic, 6)
    events = [
        record(value, key, offset=n) for n, (key, value) in enumerate(keyed) if key.decode().split("-")[-2] == kind
    ]

    parsed, dead = parse_batch(events, model, "test")

    assert parsed == []
    assert len(dead) == len(events) > 0
    assert all(d.reason.startswith(("invalid ", "undecodable message: ")) for d in dead), [d.reason for d in dead]
    if kind == "oversized":
        assert all("bytes, more than the" in d.reason for d in dead)


@dataclass
class Faulty:
    """An apply step that fails on some values for a reason of their own (a bug, an absurd value)."""

    applied: list[list[str]] = field(default_factory=list)

    async def apply(self, batch: list[Received[ProgrammeItemUpdated]]) -> list[DeadLetter]:
        if any(item.value.item_id == "bad" for item in batch):
            raise OverflowError("date value out of range")
        self.applied.append([item.value.item_id for item in batch])
        return []


@pytest.mark.parametrize("retry", [None, "apply updates"])
def test_a_value_that_breaks_apply_is_dead_lettered_alone_and_the_rest_applied(retry: str | None) -> None:
    faulty, recorder = Faulty(), Recorder()
    values = [update().model_copy(update={"item_id": item_id}) for item_id in ("t1", "bad", "t2")]
    step = BatchHandler("test", ProgrammeItemUpdated, faulty.apply, recorder.send_dead, retry=retry)

    asyncio.run(step([record(v.to_bytes(), offset=n) for n, v in enumerate(values)]))

    assert faulty.applied == [["t1"], ["t2"]]
    assert recorder.steps[-1] == ("dead", ["processing failed: OverflowError: date value out of range"])


def test_only_outages_are_retried() -> None:
    from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
    from pymongo.errors import DuplicateKeyError, ServerSelectionTimeoutError

    assert all(map(is_transient, [ServerSelectionTimeoutError("down"), KafkaConnectionError(), TimeoutError()]))
    assert not any(map(is_transient, [MessageSizeTooLargeError(), OverflowError(), DuplicateKeyError("dup")]))


def test_a_message_too_large_for_the_broker_is_not_an_outage_even_wrapped_by_faust() -> None:
    from aiokafka.errors import MessageSizeTooLargeError
    from faust.exceptions import ProducerSendError

    try:
        try:
            raise MessageSizeTooLargeError()
        except MessageSizeTooLargeError as inner:
            raise ProducerSendError("Error while sending") from inner
    except ProducerSendError as wrapped:
        assert not is_transient(wrapped)
    assert is_transient(ProducerSendError("Error while sending: KafkaConnectionError"))


def test_the_dead_letter_of_a_huge_message_keeps_its_start_and_size_and_fits_the_broker() -> None:
    huge = b"x" * 3_000_000
    letter = dead_letter_for("router", record(huge, b"k" * 5000), "undecodable message: too large")
    assert letter.original_size == 3_000_000
    assert base64.b64decode(letter.original_b64) == huge[: topics.MAX_MESSAGE_BYTES]
    assert len(letter.to_bytes()) < 1024 * 1024
    assert dead_letter_for("router", record(b"small"), "x").original_size is None


@dataclass
class FakeConsumer:
    """What OffsetWatch reads of faust's consumer: assignment, fetch high watermarks, read and committed offsets."""

    highwaters: dict[TP, int]
    _read_offset: dict[TP, int | None] = field(default_factory=dict)
    _committed_offset: dict[TP, int | None] = field(default_factory=dict)
    _acked: dict[TP, list[int]] = field(default_factory=dict)
    _acked_index: dict[TP, set[int]] = field(default_factory=dict)
    _gap: dict[TP, object] = field(default_factory=dict)
    seeks: list[tuple[TP, int]] = field(default_factory=list)
    commits: list[dict[TP, int]] = field(default_factory=list)

    def assignment(self) -> set[TP]:
        return set(self.highwaters)

    def highwater(self, tp: TP) -> int:
        return self.highwaters[tp]

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, 0)

    async def seek(self, tp: TP, offset: int) -> None:
        # faust's seek moves aiokafka's position from the app's thread while the consumer thread iterates the
        # fetched records: under load that raised KeyError in aiokafka and stopped the worker (fault suite).
        raise AssertionError(f"seek({tp}, {offset}) is not thread-safe: the watch must use seek_wait")

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        # As faust's aiokafka driver does it, in the consumer thread: the read offset follows the seek (none at 0).
        for tp, offset in partitions.items():
            self.seeks.append((tp, offset))
            if offset > 0:
                self._read_offset[tp] = offset
            else:
                self._read_offset.pop(tp, None)

    async def _commit(self, offsets: dict[TP, int]) -> bool:
        self.commits.append(offsets)
        return True


ROUTED = TP(topics.CALLS_ROUTED, 0)


def watch_over(consumer: FakeConsumer, monkeypatch: pytest.MonkeyPatch) -> tuple[OffsetWatch, list[DeadLetter]]:
    announced: list[DeadLetter] = []

    async def send(_app: object, letters: Sequence[DeadLetter]) -> None:
        announced.extend(letters)

    monkeypatch.setattr("services.common.streaming.send_dead_letters", send)
    return OffsetWatch(cast(Any, SimpleNamespace(consumer=consumer)), "router"), announced


def test_a_position_past_the_log_end_is_announced_and_the_consumer_resumes_from_the_earliest_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = FakeConsumer({ROUTED: 120}, _read_offset={ROUTED: 99}, _committed_offset={ROUTED: 100})
    watch, announced = watch_over(consumer, monkeypatch)
    assert asyncio.run(watch.check()) == [] and announced == []  # healthy: at or below the end

    consumer.highwaters[ROUTED] = 8  # the broker restarted: a new, short log
    [lost] = asyncio.run(watch.check())

    assert (lost.position, lost.end, lost.earliest) == (120, 8, 0)
    assert consumer.seeks == [(ROUTED, 0)] and consumer.commits == [{ROUTED: 0}]
    assert consumer._committed_offset[ROUTED] is None
    assert [letter.reason.startswith("broker lost messages: router stood at offset 120") for letter in announced] == [
        True
    ]


def test_a_decision_a_rebalance_overtook_is_not_acted_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker was restarting: earliest_offsets answered only after the group rebalanced, and the worker
    already reads the new log from the start; seeking then would act on what was read before the rebalance."""
    consumer = FakeConsumer({ROUTED: 120}, _read_offset={ROUTED: 119}, _committed_offset={ROUTED: 120})
    watch, announced = watch_over(consumer, monkeypatch)
    asyncio.run(watch.check())
    app = cast(Any, watch.app)
    app.rebalancing_count = 0
    answer = consumer.earliest_offsets

    async def after_a_rebalance(*tps: TP) -> dict[TP, int]:
        app.rebalancing_count += 1
        return await answer(*tps)

    consumer.earliest_offsets = after_a_rebalance  # type: ignore[method-assign]
    consumer.highwaters[ROUTED] = 8

    assert asyncio.run(watch.check()) == []
    assert consumer.seeks == [] and consumer.commits == [] and announced == []

    consumer._read_offset[ROUTED], consumer._committed_offset[ROUTED] = 7, None  # reading the new log from 0
    assert asyncio.run(watch.check()) == [] and consumer.seeks == []  # the next tick sees nothing wrong


def test_a_committed_offset_that_went_back_is_announced_without_seeking(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = FakeConsumer({ROUTED: 300}, _read_offset={ROUTED: 299}, _committed_offset={ROUTED: 300})
    watch, announced = watch_over(consumer, monkeypatch)
    asyncio.run(watch.check())
    # After the restart the group started over and the new log already grew past the old end.
    consumer.highwaters[ROUTED], consumer._read_offset[ROUTED], consumer._committed_offset[ROUTED] = 400, 20, 21

    [lost] = asyncio.run(watch.check())

    assert lost.resumed and consumer.seeks == []
    assert "had committed offset 300" in announced[0].reason and "holds 21" in announced[0].reason


class Cluster:
    """The broker's answer to 'which cluster are you?': an id, or an outage."""

    def __init__(self, cluster_id: str) -> None:
        self.id: str | None = cluster_id
        self.down = False

    async def __call__(self) -> str | None:
        if self.down:
            raise ConnectionError("the broker is restarting")
        return self.id


CALLS = TP(topics.CALLS_RECEIVED, 1)


def test_a_new_broker_is_read_from_its_start_though_the_offsets_look_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The case offsets cannot tell: the new log already grew past where the worker stood on the old one."""
    consumer = FakeConsumer({ROUTED: 120, CALLS: 40}, _read_offset={ROUTED: 99, CALLS: 39})
    consumer._committed_offset.update({ROUTED: 100, CALLS: 40})
    cluster = Cluster("hotline-aaa")
    watch, announced = watch_over(consumer, monkeypatch)
    watch.cluster_id = cluster
    assert asyncio.run(watch.check()) == [] and consumer.seeks == []

    cluster.down = True  # the broker restarts: the watch cannot ask, and does nothing
    assert asyncio.run(watch.check()) == [] and consumer.seeks == [] and announced == []
    cluster.down, cluster.id = False, "hotline-bbb"
    consumer.highwaters.update({ROUTED: 180, CALLS: 45})  # past the old positions: no offset looks wrong

    lost = asyncio.run(watch.check())

    assert sorted(consumer.seeks) == sorted([(ROUTED, 0), (CALLS, 0)])
    assert {(item.topic, item.partition, item.position, item.earliest) for item in lost} == {
        (ROUTED.topic, 0, 120, 0),
        (CALLS.topic, 1, 40, 0),
    }
    assert all("replaced (cluster id 'hotline-aaa', now 'hotline-bbb')" in letter.reason for letter in announced)
    assert all(letter.reason.startswith("broker lost messages") for letter in announced) and len(announced) == 2

    consumer._read_offset.update({ROUTED: 150, CALLS: 44})  # reading the new log again: nothing more to do
    assert asyncio.run(watch.check()) == [] and len(consumer.seeks) == 2


def test_a_new_broker_seen_while_the_group_rebalances_is_acted_on_once_it_settled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = FakeConsumer({ROUTED: 120}, _read_offset={ROUTED: 99}, _committed_offset={ROUTED: 100})
    cluster = Cluster("hotline-aaa")
    watch, announced = watch_over(consumer, monkeypatch)
    watch.cluster_id = cluster
    asyncio.run(watch.check())
    app = cast(Any, watch.app)

    cluster.id, app.rebalancing = "hotline-bbb", True
    assert asyncio.run(watch.check()) == [] and consumer.seeks == []
    cluster.id = "hotline-ccc"  # restarted again meanwhile: the loss is told from the id the worker read
    app.rebalancing = False

    [lost] = asyncio.run(watch.check())

    assert consumer.seeks == [(ROUTED, 0)] and lost.replaced == ("hotline-aaa", "hotline-ccc")
    assert asyncio.run(watch.check()) == [] and len(announced) == 1
