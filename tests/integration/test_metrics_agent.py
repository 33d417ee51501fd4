"""The metrics worker as a process: routed calls on the bus become cases and counts, poison is dead-lettered."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from pymongo import AsyncMongoClient

from shared import topics
from shared.events import DeadLetter
from tests import factories
from tests.helpers import present, produce, read_topic, run_service

pytestmark = pytest.mark.integration


async def test_the_worker_stores_each_routed_call_once_and_dead_letters_poison(worker_env, servers, tmp_path) -> None:
    database = f"test_metrics_agent_{uuid.uuid4().hex[:10]}"
    run = uuid.uuid4().hex[:8]
    queue_id = f"street:测试区/{run}"
    events = [factories.routed(f"agent-{run}-{i}", queue_id=queue_id, unit_name=run) for i in range(5)]
    duplicate = events[2].model_copy(update={"event_id": uuid.uuid4()})
    poison_key = f"poison-{run}".encode()
    messages = [(e.key(), e.to_bytes()) for e in events]
    messages += [(duplicate.key(), duplicate.to_bytes()), (poison_key, b'{"event_type": "call.routed", "oops": 1}')]

    client: AsyncMongoClient = AsyncMongoClient(servers.mongodb_uri)
    db = client[database]
    env = {**worker_env, "MONGODB_DATABASE": database, "HOTLINE_METRICS_BATCH_WINDOW_SECONDS": "0.2"}
    try:
        with run_service("services.metrics", env, tmp_path / "metrics.log") as proc:
            await produce(servers.bootstrap_servers, topics.CALLS_ROUTED, messages)

            deadline = time.monotonic() + 90
            stored = 0
            while time.monotonic() < deadline and proc.poll() is None:
                stored = await db.cases.count_documents({"queue_id": queue_id})
                unit_counter = await db.counters.find_one({"_id": f"2026-04|unit|{queue_id}"})
                if stored == len(events) and unit_counter and unit_counter["count"] == len(events):
                    break
                await asyncio.sleep(0.5)
            log = (tmp_path / "metrics.log").read_text(errors="replace")
            assert proc.poll() is None, log[-3000:]
            assert stored == len(events), log[-3000:]

            # Give the duplicate time to be processed if it came in a later batch, then check it counted once.
            await asyncio.sleep(2)
            assert await db.cases.count_documents({"queue_id": queue_id}) == len(events)
            assert present(await db.counters.find_one({"_id": f"2026-04|unit|{queue_id}"}))["count"] == len(events)
            assert present(await db.counters.find_one({"_id": f"queue|{queue_id}"}))["open"] == len(events)
            index_names = set(await db.cases.index_information())
            assert "queue_ids_status_received" in index_names

            def is_ours(value: bytes) -> bool:
                return json.loads(value).get("key") == poison_key.decode()

            dead = await read_topic(servers.bootstrap_servers, topics.DEADLETTER, lambda kept: bool(kept), keep=is_ours)
            assert len(dead) == 1
            letter = DeadLetter.model_validate_json(dead[0])
            assert letter.service == "metrics"
            assert letter.source_topic == topics.CALLS_ROUTED
            assert "invalid CallRouted" in letter.reason
    finally:
        await client.drop_database(database)
        await client.close()
