"""End to end: two instances each of classifier, router and metrics share a run, nothing lost or doubled.

The platform starts with ``replicas={"classifier": 2, "router": 2, "metrics": 2}`` (what ``hotline up
--replicas classifier=2,router=2,metrics=2`` does): each pair is one consumer group whose members split
the six partitions of their input topic. Every call is posted twice (an integration's retry), so the
at-least-once path is exercised too; the store must hold each call once, and its counters must equal
a rebuild from the cases (the same aggregates as one instance would have written).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hotline.platform import Platform, ensure_dev_key
from services.common.mongo import mongo_client
from services.metrics.repository import MetricsRepository
from shared import topics
from shared.settings import MongoSettings, ServiceSettings
from tests.conftest import Servers
from tests.e2e.conftest import platform_on_session_servers
from tests.helpers import present

pytestmark = pytest.mark.e2e

REPLICAS = {"classifier": 2, "router": 2, "metrics": 2}
INPUT_TOPIC = {"classifier": topics.CALLS_RECEIVED, "router": topics.CALLS_CLASSIFIED, "metrics": topics.CALLS_ROUTED}
CALLS = 240
PLACES = ("大兴区西红门镇", "朝阳区朝阳门街道", "海淀区中关村街道", "丰台区卢沟桥街道", "通州区永顺镇")


def assigned_partitions(log: Path, topic: str) -> set[int] | None:
    """The partitions of ``topic`` the worker of this log was given last (faust's assignment table)."""
    found = re.findall(rf"\|\s*{re.escape(topic)}\s*\|\s*\{{([^}}]*)\}}", log.read_text(errors="replace"))
    if not found:
        return None
    partitions: set[int] = set()
    for part in filter(None, (p.strip() for p in found[-1].split(","))):
        low, _, high = part.partition("-")
        partitions.update(range(int(low), int(high or low) + 1))
    return partitions


def split_between_instances(platform: Platform) -> dict[str, list[set[int] | None]]:
    return {
        name: [assigned_partitions(platform.services[i].log_path, INPUT_TOPIC[name]) for i in (name, f"{name}-2")]
        for name in REPLICAS
    }


def shares_the_work(assignments: list[set[int] | None]) -> bool:
    first, second = assignments
    return bool(first) and bool(second) and not (first & second) and (first | second) == set(range(6))  # type: ignore[operator]


@pytest.fixture(scope="module")
def platform(
    servers: Servers, settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("scale-out-home")
    platform = platform_on_session_servers(servers, settings, home, "scale_out")
    platform.replicas = dict(REPLICAS)
    platform.start(timeout=180)
    try:
        yield platform
    finally:
        platform.stop()


async def test_two_instances_of_each_worker_process_a_run_once(platform: Platform) -> None:
    assert sorted(platform.services) == sorted(
        ["intake", "metrics-api", "console", *REPLICAS, *(f"{name}-2" for name in REPLICAS)]
    )
    deadline = time.monotonic() + 120
    while not all(map(shares_the_work, split_between_instances(platform).values())):
        assert time.monotonic() < deadline, (
            f"partitions not split between instances: {split_between_instances(platform)}"
        )
        time.sleep(1)

    run = uuid.uuid4().hex[:8]
    calls = [
        {
            "channel": "phone",
            "source_system": "scale-out-e2e",
            "external_id": f"{run}-{i}",
            "subject": "路灯不亮",
            "body": f"{PLACES[i % len(PLACES)]}某小区门口路灯坏了一个星期，晚上很黑。",
            "location": {"address": f"{PLACES[i % len(PLACES)]}{i}号院"},
        }
        for i in range(CALLS)
    ]
    accepted: set[str] = set()
    async with httpx.AsyncClient(
        base_url=platform.intake_url, headers={"X-API-Key": ensure_dev_key(platform)}, timeout=60
    ) as client:
        for _ in range(2):  # the second time is an integration's retry: the same calls, the same ids
            for start in range(0, CALLS, 60):
                response = await client.post("/v1/calls/batch", json={"calls": calls[start : start + 60]})
                assert response.status_code == 200, response.text
                accepted |= {item["call_id"] for item in response.json()["results"] if item["status"] == "accepted"}
    assert len(accepted) == CALLS

    mongo = mongo_client(MongoSettings(uri=platform.mongodb_uri))
    try:
        database = mongo[platform.settings.mongodb.database]
        deadline = time.monotonic() + 180
        while (stored := await database.cases.count_documents({"call.source_system": "scale-out-e2e"})) < CALLS:
            assert time.monotonic() < deadline, f"only {stored} of {CALLS} cases stored"
            time.sleep(0.5)
        time.sleep(3)  # redeliveries after a rebalance would land now: none may add a case or a count
        ids = [doc["_id"] async for doc in database.cases.find({"call.source_system": "scale-out-e2e"}, {"_id": 1})]
        assert sorted(ids) == sorted(accepted)
        repository = MetricsRepository(database)
        assert await repository.stored_counters() == await repository.computed_counters()
        categories = await repository.monthly_counts(
            present(await database.cases.find_one({"_id": ids[0]}))["month"], "category"
        )
        assert sum(count.count for count in categories) == CALLS
    finally:
        await mongo.close()
    assert all(map(shares_the_work, split_between_instances(platform).values()))
