"""The probe behind `hotline up`'s "running": it returns only once the probe call was routed and the metrics
worker's group committed past it, and says which hop is missing otherwise. The pipeline's hops are played
here by plain consumers on the real broker: nothing routes (no classifier), routed but never consumed (no
metrics worker), routed and committed past."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hotline.embedded import log_ends, topic_partitions
from hotline.readiness import ProbeTimeout, probe_pipeline
from shared import topics
from shared.events import PROBE_SOURCE_SYSTEM
from tests.conftest import Servers

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def router_stand_in(bootstrap: str, commit_as: str | None) -> AsyncIterator[None]:
    """Forwards each probe on calls.received to calls.routed with its key (what the classifier and the router do
    to it); with ``commit_as``, also commits that group past each probe it forwarded (what the metrics worker
    does)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=commit_as, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await reader.start()
    await producer.start()
    if commit_as is not None:
        await committer.start()
    await log_ends(reader, await topic_partitions(reader, topics.CALLS_RECEIVED))  # from the present ends

    async def forward() -> None:
        while True:
            for records in (await reader.getmany(timeout_ms=200)).values():
                for record in records:
                    if json.loads(record.value)["call"]["source_system"] != PROBE_SOURCE_SYSTEM:
                        continue
                    sent = await (await producer.send(topics.CALLS_ROUTED, record.value, key=record.key))
                    if commit_as is not None:
                        committer.assign([sent.topic_partition])
                        await committer.commit({sent.topic_partition: sent.offset + 1})

    task = asyncio.create_task(forward())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await reader.stop()
        await producer.stop()
        if commit_as is not None:
            await committer.stop()


async def test_without_a_classifier_and_router_the_probe_is_not_routed(servers: Servers) -> None:
    with pytest.raises(ProbeTimeout, match="not routed"):
        await probe_pipeline(servers.bootstrap_servers, metrics_group=f"probe-{uuid.uuid4().hex[:8]}", timeout=3)


async def test_a_routed_probe_the_metrics_group_never_consumed_is_not_ready(servers: Servers) -> None:
    async with router_stand_in(servers.bootstrap_servers, commit_as=None):
        with pytest.raises(ProbeTimeout, match="metrics worker did not consume"):
            await probe_pipeline(servers.bootstrap_servers, metrics_group=f"probe-{uuid.uuid4().hex[:8]}", timeout=6)


async def test_the_probe_returns_once_routed_and_committed_past(servers: Servers) -> None:
    group = f"probe-{uuid.uuid4().hex[:8]}"
    async with router_stand_in(servers.bootstrap_servers, commit_as=group):
        result = await probe_pipeline(servers.bootstrap_servers, metrics_group=group, timeout=20)
    assert 0 < result.routed_after_s <= result.stored_after_s < 20
    uuid.UUID(result.call_id)
