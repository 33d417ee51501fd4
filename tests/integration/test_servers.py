"""The session's servers speak the real protocols to the real clients."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared import topics

pytestmark = pytest.mark.integration


async def test_every_hotline_topic_exists_with_six_partitions(servers) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics.ALL_TOPICS))
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described}
    assert partitions == {name: 6 for name in topics.ALL_TOPICS}


async def test_a_message_produced_with_acks_all_is_consumed_back(servers) -> None:
    marker = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(bootstrap_servers=servers.bootstrap_servers, acks="all")
    await producer.start()
    try:
        metadata = await producer.send_and_wait(topics.DEADLETTER, marker, key=b"probe")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=servers.bootstrap_servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        from aiokafka import TopicPartition

        tp = TopicPartition(topics.DEADLETTER, metadata.partition)
        consumer.assign([tp])
        consumer.seek(tp, metadata.offset)
        batch = await consumer.getmany(tp, timeout_ms=5000)
        assert [m.value for m in batch[tp]][:1] == [marker]
    finally:
        await consumer.stop()


async def test_database_upserts_and_transactions(mongo_db) -> None:
    client = mongo_db.client
    async with client.start_session() as session:
        async with await session.start_transaction():
            await mongo_db.counters.update_one({"_id": "x"}, {"$inc": {"n": 2}}, upsert=True, session=session)
    assert (await mongo_db.counters.find_one({"_id": "x"}))["n"] == 2
