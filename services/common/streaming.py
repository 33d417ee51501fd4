"""The one place that knows how a Hotline faust worker is configured, how it consumes a batch and how
poison messages are kept.

Size: ~620 lines — the worker's whole consuming contract in one place: the app factory, parsing, the one
dead-letter builder, retries, the batch loop and the offset watch (a restarted in-memory broker) that the loop
feeds; splitting the watch out would make it import back from here.

Agents stay thin: each is ``consume_batches`` with a ``BatchHandler`` (take a batch → parse the bytes
into a contract model → dead-letter what does not parse → apply, retried while a store is down → dead-
letter what the step refused), and the step itself calls pure domain code. A message that cannot be
processed goes to ``hotline.deadletter.v1`` with the reason and its original bytes (one builder:
``dead_letter``), and the agent goes on. Delivery is at-least-once (the embedded broker has no idempotent
producer, so no transactions): every consumer must be idempotent.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

import faust
from faust.types import EventT
from pydantic import BaseModel, ValidationError

from services.common import observability, tracing
from services.common.logs import call_fields, log_context, logging_config
from shared import topics
from shared.events import DeadLetter, EventBase
from shared.settings import ServiceSettings, WorkerSettings

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
ResultT = TypeVar("ResultT")


def _bounded_fetch_wait(fetch_max_wait_ms: int) -> None:
    """Make faust's worker consumers wait at most ``fetch_max_wait_ms`` in a fetch.

    faust hard-codes ``fetch_max_wait_ms=1500``. Apache Kafka answers a fetch as soon as data arrives, but
    the embedded broker (Tansu) waits out the whole interval, which cost ~400 ms per hop (measured: a
    produce->consume median of 384 ms at 1500 ms, 14 ms at 100 ms). aiokafka reads the value when the
    consumer starts, so setting it on the freshly created consumer is enough.
    """
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    create = AIOKafkaConsumerThread._create_worker_consumer
    if getattr(create, "_hotline_fetch_wait", None) == fetch_max_wait_ms:
        return
    original = getattr(create, "_hotline_original", create)

    def create_worker_consumer(self: AIOKafkaConsumerThread, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms
        return consumer

    create_worker_consumer._hotline_fetch_wait = fetch_max_wait_ms  # type: ignore[attr-defined]
    create_worker_consumer._hotline_original = original  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]


def create_app(service: str, settings: ServiceSettings) -> faust.App:
    """A faust app for ``service``: raw bytes in and out, acks=all, no web server, in-memory tables, and a
    timer that notices a broker that lost its logs (``OffsetWatch``)."""
    _bounded_fetch_wait(settings.kafka.fetch_max_wait_ms)
    app = faust.App(
        settings.kafka.group_id(service),
        broker=settings.kafka.faust_broker,
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        # A worker that lost its broker keeps trying rather than exiting: the supervisor need not restart it.
        broker_session_timeout=30.0,
    )
    watch = OffsetWatch(app, service, cluster_id=functools.partial(broker_cluster_id, settings.kafka.bootstrap_servers))

    @app.timer(settings.kafka.offset_check_seconds, name=f"{service}-offset-watch")
    async def watch_offsets() -> None:
        await watch.check()

    if isinstance(settings, WorkerSettings):
        observability.instrument_worker(app, service, settings)  # /readyz and /metrics on settings.web_port
    return app


@dataclass(frozen=True, slots=True)
class LostLog:
    """A partition whose consumer stood past the end of its log: the broker lost what it held."""

    topic: str
    partition: int
    position: int
    end: int
    earliest: int
    resumed: bool = False  # the group had already started over (its committed offset went back)
    replaced: tuple[str, str] | None = None  # the broker's cluster id before and now: a new broker answers

    def reason(self, service: str) -> str:
        where = f"{self.topic}[{self.partition}]"
        if self.replaced is not None:
            before, now = self.replaced
            return (
                f"broker lost messages: the broker was replaced (cluster id {before!r}, now {now!r}); {service} "
                f"stood at offset {self.position} of {where}; whatever was only on the old broker is gone (calls "
                f"accepted before the restart and not yet consumed); consuming the new log from offset {self.earliest}"
            )
        if self.resumed:
            return (
                f"broker lost messages: {service} had committed offset {self.position} of {where}, the broker now "
                f"holds {self.end}: it lost its logs and offsets; whatever was only on the broker is gone (calls "
                f"accepted before the restart and not yet consumed); consuming the new log from its beginning"
            )
        return (
            f"broker lost messages: {service} stood at offset {self.position} of {where} but the log ends at "
            f"{self.end}; whatever was only on the broker is gone (calls accepted before the restart and not yet "
            f"consumed); resuming from offset {self.earliest}"
        )


class OffsetWatch:
    """Notices that the broker lost its logs, says so loudly and resumes from the earliest retained offset.

    The embedded broker keeps everything in memory: after a restart its topics are empty, while a worker
    that stayed up (or its group's committed offsets, committed again after the restart) stands past the
    new logs' end, so faust would skip every new message. Every ``kafka.offset_check_seconds`` this compares,
    for each assigned partition of a Hotline topic, the worker's read and committed offsets and the log end
    it saw last with the log's end now (the high watermark of the last fetch); if the worker is past the end (or the end went back), the broker
    lost data: it is logged as an error and announced on ``hotline.deadletter.v1``, faust's bookkeeping of
    the partition is reset, the consumer seeks to the earliest offset and commits it. When the group has
    already started over on its own (a rebalance after the restart found no committed offsets and faust
    began at the new logs' start), its committed offset goes back below the highest it committed before:
    that is announced too (committed offsets never go back on a broker that keeps them). A new log that
    grew past the old position within one interval, with no commit seen in between, cannot be told apart
    (documented in docs/operations.md) by offsets alone, so the watch also asks the broker its cluster id
    (``cluster_id``) every tick: a new id means a new broker (the embedded one gets a fresh id at each start),
    and every assigned partition starts over from the earliest offset, whatever the offsets say. Reading a
    new log again from its start is safe: every consumer is idempotent.
    """

    def __init__(
        self, app: faust.App, service: str, cluster_id: Callable[[], Awaitable[str | None]] | None = None
    ) -> None:
        self.app = app
        self.service = service
        self.ends: dict[Any, int] = {}
        self.committed: dict[Any, int] = {}
        self.cluster_id = cluster_id
        self.cluster: str | None = None  # the broker's cluster id when last asked
        self.replaced: tuple[str, str] | None = None  # a change of cluster id not acted on yet

    async def check(self) -> list[LostLog]:
        try:
            return await self._check()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the broker may be down right now: the next tick tries again
            log.warning("offset watch of %s: %s: %s", self.service, type(exc).__name__, exc)
            return []

    async def _check(self) -> list[LostLog]:
        consumer: Any = self.app.consumer
        await self._ask_cluster()
        assigned = [tp for tp in consumer.assignment() if tp.topic in topics.ALL_TOPICS]
        if not assigned or self._rebalancing():
            return []
        rebalances = self._rebalances()
        if self.replaced is not None:
            return await self._start_over(consumer, assigned, rebalances)
        lost: list[LostLog] = []
        behind: dict[Any, tuple[int, int]] = {}
        for tp in assigned:
            committed = consumer._committed_offset.get(tp)
            remembered = self.committed.get(tp)
            if committed is not None:
                if remembered is not None and committed < remembered:
                    # The group's committed offset went back: the broker forgot what this group committed
                    # (it lost its logs and offsets; the group started over from the new logs' beginning).
                    lost.append(LostLog(tp.topic, tp.partition, remembered, committed, committed, resumed=True))
                self.committed[tp] = committed
            # The high watermark of the last fetch response, not ListOffsets: the embedded broker answers
            # ListOffsets(latest) with the base offset of the last record batch, short of the log's end.
            end = consumer.highwater(tp)
            if end is None or end < 0:
                continue
            position = self._position(consumer, tp)
            self.ends[tp] = end
            if position > end:
                behind[tp] = (position, end)
        if behind and (earliest := await self._earliest(consumer, list(behind), rebalances)) is not None:
            for tp, (position, end) in behind.items():
                await self._reset(consumer, tp, earliest[tp])
                lost.append(LostLog(tp.topic, tp.partition, position, end, earliest[tp]))
        if lost:
            await self.announce(lost)
        return lost

    async def _ask_cluster(self) -> None:
        """Note the broker's cluster id; a change is kept in ``replaced`` until ``_start_over`` acts on it."""
        if self.cluster_id is None:
            return
        now = await self.cluster_id()
        if not now:
            return
        if self.cluster is not None and now != self.cluster:
            before = self.replaced[0] if self.replaced is not None else self.cluster
            self.replaced = (before, now)
            log.warning("offset watch of %s: the broker's cluster id was %r and is now %r", self.service, before, now)
        self.cluster = now

    async def _start_over(self, consumer: Any, assigned: list[Any], rebalances: int) -> list[LostLog]:
        """A new broker answers: every assigned partition is read again from its earliest offset."""
        assert self.replaced is not None
        earliest = await self._earliest(consumer, assigned, rebalances)
        if earliest is None:
            return []  # ``replaced`` stays: the next check starts over
        lost: list[LostLog] = []
        for tp in assigned:
            position = self._position(consumer, tp)
            start = earliest[tp]
            end = consumer.highwater(tp)
            await self._reset(consumer, tp, start)
            self.ends.pop(tp, None)  # an end seen on the old broker says nothing of the new log
            if position <= start:  # nothing was read of it on the old broker: nothing to announce
                continue
            lost.append(
                LostLog(
                    tp.topic, tp.partition, position, end if end and end > 0 else start, start, replaced=self.replaced
                )
            )
        self.replaced = None
        if lost:
            await self.announce(lost)
        return lost

    def _position(self, consumer: Any, tp: Any) -> int:
        """The furthest the worker stood on ``tp``: its read or committed offset, or the log end it saw last."""
        known = [consumer._read_offset.get(tp), consumer._committed_offset.get(tp), self.ends.get(tp)]
        return max((offset for offset in known if offset is not None), default=0)

    async def _earliest(self, consumer: Any, tps: list[Any], rebalances: int) -> dict[Any, int] | None:
        """The earliest offset of each of ``tps``, or None when the group rebalanced while the broker answered."""
        earliest = await consumer.earliest_offsets(*tps)
        if self._rebalancing() or self._rebalances() != rebalances:
            # That answer took a while (a restarting broker): the group rebalanced meanwhile and the worker now
            # reads from what the new assignment says (the earliest offset when the broker kept no commits).
            # What was read before the rebalance is stale; the next tick looks again.
            log.info("offset watch of %s: a rebalance came between; checking again", self.service)
            return None
        return {tp: max(int(earliest.get(tp) or 0), 0) for tp in tps}

    async def _reset(self, consumer: Any, tp: Any, start: int) -> None:
        """Forget faust's bookkeeping of ``tp``, read it again from ``start`` and commit that."""
        for bookkeeping in (consumer._acked, consumer._acked_index, consumer._gap):
            bookkeeping.pop(tp, None)
        consumer._committed_offset[tp] = None
        self.committed[tp] = start
        # seek_wait, not seek: faust's seek moves aiokafka's position from the app's thread while the
        # consumer thread may be iterating the fetched records (a KeyError that crashed the Fetcher and
        # stopped the worker under load); seek_wait runs in the consumer thread and drops faust's read
        # offset, below which it would silently skip the new log's records.
        await consumer.seek_wait({tp: start})
        try:
            await consumer._commit({tp: start})
        except Exception as exc:  # the next commit of a processed message overwrites it anyway
            log.warning("offset watch: committing %s at %d failed: %s", tp, start, exc)

    def _rebalancing(self) -> bool:
        return bool(getattr(self.app, "rebalancing", False))

    def _rebalances(self) -> int:
        return int(getattr(self.app, "rebalancing_count", 0))

    async def announce(self, lost: Sequence[LostLog]) -> None:
        """Log each loss as an error and publish it as a dead letter (empty original)."""
        letters = []
        for item in lost:
            log.error("%s", item.reason(self.service))
            letters.append(
                dead_letter(
                    self.service,
                    item.reason(self.service),
                    source_topic=item.topic,
                    original=b"",
                    partition=item.partition,
                    offset=item.end,
                )
            )
        await retry_until_done("announce lost broker logs", functools.partial(send_dead_letters, self.app, letters))


async def broker_cluster_id(bootstrap_servers: str, timeout_ms: int = 5000) -> str | None:
    """The cluster id the broker answers with (Metadata v2+), on a connection of its own that is closed again.

    Apache Kafka keeps its id across restarts (it is in the data directory); the embedded broker is given a
    fresh one at each start (``hotline.embedded.start_broker``), so a new id says the broker lost everything.
    """
    from aiokafka.client import AIOKafkaClient
    from aiokafka.protocol.metadata import MetadataRequest

    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=timeout_ms)
    try:
        await client.bootstrap()
        node = client.get_random_node()
        if node is None:
            return None
        response = await client.send(node, MetadataRequest([]))
        return getattr(response, "cluster_id", None)
    finally:
        await client.close()


def raw_topic(app: faust.App, name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


async def publish(app: faust.App, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> None:
    """Every (key, value) of ``messages`` on ``topic``, in order, returning once the broker acknowledged each
    (acks=all); the first failure is raised, as faust's producer raised it.

    Handed to faust's producer (aiokafka) directly, with the trace context each key's call carries
    (``tracing.headers_for_key``): faust's ``Topic.send`` wraps each message in a future of its own and runs every
    sensor on it, a fifth of the classifier's CPU at saturation. What is sent is counted per topic in
    ``hotline_messages_published_total`` instead of faust's per-message sensors."""
    producer = await app.maybe_start_producer()
    futures = [
        await producer.send(topic, key, value, None, None, tracing.headers_for_key(key)) for key, value in messages
    ]
    if futures:
        await asyncio.gather(*futures)
        observability.MESSAGES_PUBLISHED.labels(topic).inc(len(futures))


def dead_letter(
    service: str,
    reason: str,
    *,
    source_topic: str,
    original: bytes,
    key: bytes | str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> DeadLetter:
    """The one builder of a dead letter: the message's bytes kept whole (base64) up to
    ``topics.MAX_MESSAGE_BYTES`` (a larger message keeps its first bytes and its size, so the dead letter
    itself fits the broker), the reason cut at 2,000 characters.

    Use ``dead_letter_for`` for a record as it came off a topic (it knows its partition and offset) and
    ``dead_letter_of`` for a parsed event a later step refused.
    """
    if isinstance(key, bytes | bytearray):
        key = bytes(key).decode("utf-8", "replace")
    kept = original[: topics.MAX_MESSAGE_BYTES]
    return DeadLetter(
        service=service,
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        key=key[:1000] if key is not None else None,
        reason=reason[:2000],
        original_b64=base64.b64encode(kept).decode(),
        original_size=len(original) if len(kept) < len(original) else None,
    )


def dead_letter_for(service: str, event: EventT, reason: str) -> DeadLetter:
    """The dead letter of a record as consumed: its topic, partition, offset, key and original bytes."""
    message = event.message
    value = message.value if isinstance(message.value, bytes | bytearray) else str(message.value).encode()
    key = message.key if isinstance(message.key, bytes | bytearray) else None
    return dead_letter(
        service,
        reason,
        source_topic=message.topic,
        original=bytes(value),
        key=key,
        partition=message.partition,
        offset=message.offset,
    )


def dead_letter_of(service: str, event: EventBase, reason: str) -> DeadLetter:
    """The dead letter of a parsed contract event a later step refused: its topic, key and serialized bytes."""
    return dead_letter(service, reason, source_topic=event.topic, original=event.to_bytes(), key=event.key())


@dataclass(frozen=True, slots=True)
class Received(Generic[ModelT]):
    """A parsed message with the record it arrived in (what ``dead_letter_for`` needs to name it)."""

    record: EventT
    value: ModelT


def parse_batch(
    events: Sequence[EventT], model: type[ModelT], service: str
) -> tuple[list[Received[ModelT]], list[DeadLetter]]:
    """Parse a batch of raw records into ``model``; the ones that fail become dead letters with the reason."""
    parsed: list[Received[ModelT]] = []
    dead: list[DeadLetter] = []
    for event in events:
        value = event.value
        try:
            if not isinstance(value, bytes | bytearray):
                raise TypeError(f"expected bytes, got {type(value).__name__}")
            if len(value) > topics.MAX_MESSAGE_BYTES:
                raise ValueError(f"{len(value)} bytes, more than the {topics.MAX_MESSAGE_BYTES} a message may have")
            parsed.append(Received(event, model.model_validate_json(value)))
        except ValidationError as exc:
            dead.append(dead_letter_for(service, event, f"invalid {model.__name__}: {_short_errors(exc)}"))
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            dead.append(dead_letter_for(service, event, f"undecodable message: {exc}"))
    return parsed, dead


def parse_events(events: Sequence[EventT], model: type[ModelT], service: str) -> tuple[list[ModelT], list[DeadLetter]]:
    """Parse a batch of raw events into ``model``; the ones that fail become dead letters with the reason."""
    parsed, dead = parse_batch(events, model, service)
    return [item.value for item in parsed], dead


def _short_errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


DeadLetterSender = Callable[[Sequence[DeadLetter]], Awaitable[None]]
"""Publishes dead letters and returns once the broker acknowledged them."""


async def send_dead_letters(app: faust.App, dead: Sequence[DeadLetter]) -> None:
    """Publish dead letters and wait for the broker's acknowledgement of each."""
    if not dead:
        return
    await publish(app, topics.DEADLETTER, [(d.key.encode() if d.key else None, d.to_bytes()) for d in dead])
    for d in dead:
        log.warning(
            "dead-lettered %s offset %s: %s", d.source_topic, d.offset, d.reason, extra=call_fields(call_id=d.key)
        )


def dead_letter_sender(app: faust.App) -> DeadLetterSender:
    """``send_dead_letters`` bound to ``app``: what a ``BatchHandler`` publishes its dead letters with."""
    return functools.partial(send_dead_letters, app)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage that retrying cures (a store or the broker unreachable, a timeout), rather
    than a fault of the data (an absurd value, a message too large for the broker, a bug on one input)."""
    from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError
    from pymongo.errors import ConnectionFailure, PyMongoError, WriteConcernError

    cause: BaseException | None = exc
    for _ in range(10):  # faust wraps the producer's error in its own ProducerSendError
        if cause is None:
            break
        if isinstance(cause, MessageSizeTooLargeError | RecordTooLargeError) or "TooLarge" in str(cause):
            return False
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, KafkaError | ConnectionFailure | WriteConcernError | OSError | TimeoutError):
        return True
    if isinstance(exc, PyMongoError):
        return exc.has_error_label("RetryableWriteError") or exc.has_error_label("TransientTransactionError")
    type_name = type(exc).__name__  # faust's own broker errors, without importing its internals
    return type_name in {"ProducerSendError", "NotReady", "ConsumerNotStarted"}


async def retry_until_done(
    what: str,
    action: Callable[[], Awaitable[ResultT]],
    *,
    first_delay: float = 0.2,
    max_delay: float = 10.0,
    retry_if: Callable[[BaseException], bool] | None = None,
) -> ResultT:
    """Run ``action`` until it succeeds, backing off: a store being down must not ack unprocessed events.

    With ``retry_if`` (e.g. ``is_transient``), an error it does not accept is raised at once instead: a
    poison input must not be retried forever.
    """
    delay = first_delay
    while True:
        try:
            return await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if retry_if is not None and not retry_if(exc):
                raise
            log.warning("%s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


class InvalidMessages(StrEnum):
    """What a consumer does with a message that does not parse into its contract model."""

    dead_letter = "dead_letter"  # the consumer that owns the topic keeps it, with the reason
    skip = "skip"  # another consumer of the topic dead-letters it; this one only logs it


@dataclass(frozen=True, slots=True)
class Batching:
    """How many records a consumer takes at once, and the longest it waits to fill a batch."""

    size: int
    window_seconds: float


@dataclass(frozen=True, slots=True)
class BatchHandler(Generic[ModelT]):
    """One step of a faust agent over a batch of raw records: take → parse → dead-letter → apply.

    For each batch: records that do not parse into ``model`` are dead-lettered (or only logged, with
    ``invalid=InvalidMessages.skip``); ``refuse`` may turn a parsed value away with its own dead letter
    (a check against reference data); those dead letters are published and acknowledged before
    anything else. If valid values remain, ``apply`` gets them with their records, does the work
    (store, send) and returns the dead letters of what it could not do, which are published last. With
    ``retry`` set, ``apply`` is retried with backoff until it succeeds, logged under that name, so an
    outage of a store never acks unprocessed records. faust acks the batch only once this returns
    (at-least-once): ``apply`` must be idempotent.
    """

    service: str
    model: type[ModelT]
    apply: Callable[[list[Received[ModelT]]], Awaitable[Sequence[DeadLetter]]]
    send_dead_letters: DeadLetterSender
    invalid: InvalidMessages = InvalidMessages.dead_letter
    refuse: Callable[[ModelT], DeadLetter | None] | None = None
    retry: str | None = None

    async def __call__(self, events: Sequence[EventT]) -> None:
        agent = observability.agent_name(self.service)
        with log_context(agent=agent), tracing.consuming(self.service, agent, events):
            await self._handle(events, agent)

    async def _handle(self, events: Sequence[EventT], agent: str) -> None:
        parsed, dead = parse_batch(events, self.model, self.service)
        if self.invalid is InvalidMessages.skip:
            for letter in dead:
                log.warning(
                    "skipped %s at offset %s: %s",
                    letter.source_topic,
                    letter.offset,
                    letter.reason,
                    extra=call_fields(call_id=letter.key),
                )
            dead = []
        observability.count_dead_letters(self.service, agent, "invalid", len(dead))
        invalid = len(dead)
        if self.refuse is not None:
            kept: list[Received[ModelT]] = []
            for item in parsed:
                refused = self.refuse(item.value)
                if refused is None:
                    kept.append(item)
                else:
                    dead.append(refused)
            parsed = kept
        observability.count_dead_letters(self.service, agent, "refused", len(dead) - invalid)
        await self.send_dead_letters(dead)
        if not parsed:
            return
        failed = await self._apply_isolating(parsed)
        observability.count_dead_letters(self.service, agent, "refused", len(failed))
        await self.send_dead_letters(failed)
        observability.observe_batch(self.service, agent, _occurred(parsed))

    async def _apply_isolating(self, items: list[Received[ModelT]]) -> Sequence[DeadLetter]:
        """``apply`` (retried while an outage lasts); on any other error, each record alone, the failing one
        dead-lettered with the error."""
        apply = functools.partial(self.apply, items)
        try:
            if self.retry:
                return await retry_until_done(self.retry, apply, retry_if=is_transient)
            return await apply()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self.retry and is_transient(exc):
                raise  # no retry here: the worker's own recovery handles an outage
            if len(items) == 1:
                log.exception(
                    "%s: giving up on %s offset %s",
                    self.service,
                    items[0].record.message.topic,
                    items[0].record.message.offset,
                )
                return [
                    dead_letter_for(self.service, items[0].record, f"processing failed: {type(exc).__name__}: {exc}")
                ]
            log.warning(
                "%s: a batch of %d failed (%s: %s); applying its records one by one",
                self.service,
                len(items),
                type(exc).__name__,
                exc,
            )
            failed: list[DeadLetter] = []
            for item in items:
                failed.extend(await self._apply_isolating([item]))
            return failed


def _occurred(items: Sequence[Received[ModelT]]) -> list[datetime]:
    return [moment for item in items if isinstance(moment := getattr(item.value, "occurred_at", None), datetime)]


async def consume_batches(stream: faust.StreamT, batching: Batching, handler: BatchHandler[ModelT]) -> None:
    """Run ``handler`` over ``stream`` in batches of ``batching.size`` records, waiting ``window_seconds`` at most.

    The body of every Hotline agent: ``async def agent(stream): await consume_batches(stream, …)``.
    """
    # take_events is on the concrete Stream, not on the StreamT interface faust types agents with.
    async for events in cast(faust.Stream, stream).take_events(batching.size, within=batching.window_seconds):
        await handler(events)


def run_worker(app: faust.App, settings: ServiceSettings) -> None:
    """Run a faust worker in the foreground until SIGINT/SIGTERM, logging as ``services.common.logs`` says."""
    from faust.worker import Worker

    service = str(app.conf.id).removeprefix(f"{settings.kafka.group_prefix}-")
    config = logging_config(service, settings.log_level, settings.log_format)
    tracing.setup_tracing(service, settings.otlp_endpoint)
    worker = Worker(app, loglevel=settings.log_level.lower(), quiet=True, logging_config=config)
    worker.execute_from_commandline()
