"""The one place that knows how a Hotline faust worker is configured and how poison messages are kept.

Agents stay thin: parse the bytes into a contract model, call a pure domain function, send the result.
A message that cannot be parsed goes to ``hotline.deadletter.v1`` with the reason and its original
bytes, and the agent goes on. Delivery is at-least-once (the embedded broker has no idempotent
producer, so no transactions): every consumer must be idempotent.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import faust
from faust.types import EventT
from pydantic import BaseModel, ValidationError

from shared import topics
from shared.events import DeadLetter
from shared.settings import ServiceSettings

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
    """A faust app for ``service``: raw bytes in and out, acks=all, no web server, in-memory tables."""
    _bounded_fetch_wait(settings.kafka.fetch_max_wait_ms)
    return faust.App(
        f"hotline-{service}",
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


def raw_topic(app: faust.App, name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def dead_letter_for(service: str, event: EventT, reason: str) -> DeadLetter:
    message = event.message
    value = message.value if isinstance(message.value, bytes | bytearray) else str(message.value).encode()
    key = message.key.decode("utf-8", "replace") if isinstance(message.key, bytes | bytearray) else None
    return DeadLetter(
        service=service,
        source_topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=key,
        reason=reason[:2000],
        original_b64=base64.b64encode(bytes(value)).decode(),
    )


def parse_events(events: Sequence[EventT], model: type[ModelT], service: str) -> tuple[list[ModelT], list[DeadLetter]]:
    """Parse a batch of raw events into ``model``; the ones that fail become dead letters with the reason."""
    parsed: list[ModelT] = []
    dead: list[DeadLetter] = []
    for event in events:
        value = event.value
        try:
            if not isinstance(value, bytes | bytearray):
                raise TypeError(f"expected bytes, got {type(value).__name__}")
            parsed.append(model.model_validate_json(value))
        except ValidationError as exc:
            dead.append(dead_letter_for(service, event, f"invalid {model.__name__}: {_short_errors(exc)}"))
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            dead.append(dead_letter_for(service, event, f"undecodable message: {exc}"))
    return parsed, dead


def _short_errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


async def send_dead_letters(app: faust.App, dead: Sequence[DeadLetter]) -> None:
    """Publish dead letters and wait for the broker's acknowledgement of each."""
    if not dead:
        return
    topic = raw_topic(app, topics.DEADLETTER)
    futures = [await topic.send(key=d.key.encode() if d.key else None, value=d.to_bytes()) for d in dead]
    await asyncio.gather(*futures)
    for d in dead:
        log.warning("dead-lettered %s offset %s: %s", d.source_topic, d.offset, d.reason)


async def retry_until_done(
    what: str, action: Callable[[], Awaitable[ResultT]], *, first_delay: float = 0.2, max_delay: float = 10.0
) -> ResultT:
    """Run ``action`` until it succeeds, backing off: a store being down must not ack unprocessed events."""
    delay = first_delay
    while True:
        try:
            return await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_worker(app: faust.App, settings: ServiceSettings) -> None:
    """Run a faust worker in the foreground until SIGINT/SIGTERM."""
    from faust.worker import Worker

    configure_logging(settings.log_level)
    worker = Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()
