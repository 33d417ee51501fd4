"""Issue 12, defect 1: a worker that stayed up through a restart of the in-memory broker must not skip what
comes after it (its committed offsets are past the new, empty logs' end): it resumes from the earliest
retained offset and says loudly, in its log and on the dead-letter topic, that the broker lost data.

Runs on a broker and a database of its own (the session's broker must not be restarted under other tests).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from hotline.embedded import EmbeddedStack, ensure_topics
from shared import topics
from shared.events import DeadLetter
from tests import factories
from tests.helpers import produce, read_topic, run_service

pytestmark = pytest.mark.integration


async def restart_broker(stack: EmbeddedStack) -> None:
    """Stop the stack's broker (everything on it is lost: memory:// only), start a new one, create the topics."""
    stack.stop_broker()
    stack.start_broker()
    await ensure_topics(stack.bootstrap_servers, topics.ALL_TOPICS, partitions=6, replication_factor=1)


async def stale_partitions(bootstrap: str, group: str, topic: str, partitions: int = 6) -> set[int]:
    """The partitions of ``topic`` on which ``group`` has a committed offset past the (empty) new log."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        committed = {p: await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        await consumer.stop()
    return {p for p, offset in committed.items() if offset}


async def wait_logged(log: Path, since: int, *texts: str, timeout: float = 120) -> None:
    """Wait until the worker logging to ``log`` wrote each of ``texts`` after byte ``since``."""
    deadline = time.monotonic() + timeout
    missing = list(texts)
    while time.monotonic() < deadline:
        with log.open("rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        missing = [wanted for wanted in texts if wanted not in text]
        if not missing:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{log.name} never said {missing} in {timeout:.0f} s")


async def wait_reset(log: Path, since: int, topic: str, partitions: set[int], timeout: float = 120) -> None:
    """Wait until the worker logging to ``log`` (from byte ``since``) reported each of ``partitions`` lost."""
    await wait_logged(log, since, *(f"of {topic}[{p}] but the log ends at" for p in partitions), timeout=timeout)


async def wait_stored(db: object, queue_id: str, expected: int, log: Path, timeout: float = 180) -> int:
    # 180 s: a worker started after the restart rejoins its group and resumes from offset 0 before it stores the
    # new calls. Under the whole suite on a loaded two-core host, 24 of 26 were stored at 90 s; the test alone
    # passed in 112 s. A lost call still fails it, only later.
    deadline = time.monotonic() + timeout
    stored = 0
    while time.monotonic() < deadline:
        stored = await db.cases.count_documents({"queue_id": queue_id})  # type: ignore[attr-defined]
        if stored >= expected:
            break
        await asyncio.sleep(0.5)
    assert stored == expected, log.read_text(errors="replace")[-4000:]
    return stored


async def settled_count(db: object, queue_id: str, quiet: float = 6, timeout: float = 90) -> int:
    """The number of the run's cases once it stopped changing for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = await db.cases.count_documents({"queue_id": queue_id})  # type: ignore[attr-defined]
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        await asyncio.sleep(0.5)
    return last


async def test_a_worker_resumes_from_the_earliest_offset_after_the_broker_lost_its_logs(tmp_path: Path) -> None:
    stack = EmbeddedStack(home=tmp_path, database_storage=tmp_path / "db").start()
    try:
        await ensure_topics(stack.bootstrap_servers, topics.ALL_TOPICS, partitions=6, replication_factor=1)
        run = uuid.uuid4().hex[:8]
        queue_id = f"street:测试区/{run}"
        before = [factories.routed(f"before-{run}-{i}", queue_id=queue_id, unit_name=run) for i in range(300)]
        after = [factories.routed(f"after-{run}-{i}", queue_id=queue_id, unit_name=run) for i in range(8)]
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
            "MONGODB_URI": stack.mongodb_uri,
            "MONGODB_DATABASE": "broker_restart",
            "KAFKA_PARTITIONS": "6",
            "METRICS_BATCH_WINDOW_SECONDS": "0.2",
            "KAFKA_OFFSET_CHECK_SECONDS": "1",
        }
        client: AsyncMongoClient = AsyncMongoClient(stack.mongodb_uri)
        db = client["broker_restart"]
        log = tmp_path / "metrics.log"
        try:
            with run_service("services.metrics", env, log):
                await produce(
                    stack.bootstrap_servers, topics.CALLS_ROUTED, [(e.key(), e.to_bytes()) for e in before[:10]]
                )
                await wait_stored(db, queue_id, 10, log)
                # The database goes away: the worker fetches the next calls and keeps retrying to store them
                # while the broker restarts; once the database is back it acks their offsets, high on the old
                # broker's logs, and commits them to the new one, past the end of its empty logs.
                stack.stop_database()
                await produce(
                    stack.bootstrap_servers, topics.CALLS_ROUTED, [(e.key(), e.to_bytes()) for e in before[10:]]
                )
                await asyncio.sleep(3)
                await restart_broker(stack)
                stack.start_database()
                # What the worker had fetched before the restart is stored now; the rest died with the broker.
                survived = await settled_count(db, queue_id)
                assert 10 < survived <= len(before)
                # The worker that stayed up notices the new broker (its cluster id changed, or its offsets stand
                # past the new logs' end) and reads the new logs from their start.
                await wait_logged(log, 0, "broker lost messages")
                await asyncio.sleep(4)  # its commit interval
            # What the group committed on the new broker: offsets past the new logs' end when the worker acked the
            # old broker's offsets after it started over (a restarted worker without the watch would skip from
            # there), none when it started over last. Either way nothing new may be skipped.
            stale = await stale_partitions(stack.bootstrap_servers, "hotline-metrics", topics.CALLS_ROUTED)
            started_at = log.stat().st_size
            with run_service("services.metrics", env, log) as proc:
                # The new calls go in once the worker has reset every stale partition: a call landing first on a
                # partition whose stale offset it does not reach is the documented undetectable case
                # (docs/operations.md); 2 of the 8 were skipped that way in a run of the whole suite.
                await wait_reset(log, started_at, topics.CALLS_ROUTED, stale)
                await produce(stack.bootstrap_servers, topics.CALLS_ROUTED, [(e.key(), e.to_bytes()) for e in after])
                await wait_stored(db, queue_id, survived + len(after), log)
                assert proc.poll() is None, log.read_text(errors="replace")[-3000:]

                def is_loss_notice(value: bytes) -> bool:
                    letter = DeadLetter.model_validate(json.loads(value))
                    return letter.service == "metrics" and "broker lost" in letter.reason

                notices = await read_topic(
                    stack.bootstrap_servers, topics.DEADLETTER, lambda kept: bool(kept), keep=is_loss_notice
                )
                assert notices, "the loss was not announced on the dead-letter topic"
                assert "broker lost" in log.read_text(errors="replace")
        finally:
            await client.close()
    finally:
        stack.stop()
