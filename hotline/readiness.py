"""The probe call ``hotline up`` sends before it says the platform runs: proof that the pipeline carries a call.

Each worker's ``/readyz`` says it joined its consumer group; the probe proves more: a ``CallReceived`` put on
``hotline.calls.received.v1`` (acks=all) comes out of the classifier and the router on
``hotline.calls.routed.v1``, and the metrics worker's group commits past it. The probe's source system is
``shared.events.PROBE_SOURCE_SYSTEM``: the metrics worker consumes it without storing it, so it opens no case.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hotline.embedded import topic_partitions
from shared import topics
from shared.events import probe_received


@dataclass(frozen=True, slots=True)
class ProbeResult:
    call_id: str
    routed_after_s: float
    stored_after_s: float


class ProbeTimeout(RuntimeError):
    pass


async def probe_pipeline(bootstrap_servers: str, *, metrics_group: str, timeout: float) -> ProbeResult:
    """Send a probe call and wait until it is routed and the metrics worker's group (``metrics_group``, faust: the
    app's id, ``KafkaSettings.group_id``) committed past it."""
    deadline = time.monotonic() + timeout
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topics.CALLS_ROUTED)
        if not partitions:
            raise ProbeTimeout(f"{topics.CALLS_ROUTED} has no partitions")
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)  # resolve the end offsets before the probe is sent
        probe = probe_received()
        started = time.monotonic()
        await producer.start()
        await (await producer.send(topics.CALLS_RECEIVED, probe.to_bytes(), key=probe.key()))
        routed_at: TopicPartition | None = None
        routed_offset = -1
        while routed_at is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeTimeout("the probe call was not routed (classifier or router not consuming)")
            batches = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for tp, records in batches.items():
                for record in records:
                    if record.key == probe.key():
                        routed_at, routed_offset = tp, record.offset
        routed_after = time.monotonic() - started
        await admin.start()
        while True:
            offsets = await admin.list_consumer_group_offsets(metrics_group, partitions=[routed_at])
            committed = offsets.get(routed_at)
            if committed is not None and committed.offset > routed_offset:
                break
            if time.monotonic() >= deadline:
                raise ProbeTimeout("the metrics worker did not consume the routed probe")
            await asyncio.sleep(0.3)
        return ProbeResult(str(probe.call_id), routed_after, time.monotonic() - started)
    finally:
        await consumer.stop()
        await producer.stop()
        if admin._client._sync_task is not None or admin._started:  # type: ignore[attr-defined]
            await admin.close()
