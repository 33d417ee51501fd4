"""The metrics worker as a process: routed calls then lifecycle steps (duplicates, replays, an illegal step),
killed with SIGKILL mid-stream and restarted; the streamed counters must equal the rebuilt ones."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.metrics.case_facts import apply_case_event, case_document
from services.metrics.repository import MetricsRepository
from shared import topics
from shared.events import CaseEvent, DeadLetter
from tests import factories
from tests.helpers import produce, read_topic, run_service

pytestmark = pytest.mark.integration

PATHS = [
    ["accepted", "responded", "resolved", "callback", "closed"],
    ["accepted", "responded", "resolved"],
    ["accepted", "returned", "dispatched", "accepted"],
    ["accepted", "whistle", "responded"],
    ["accepted"],
]


def lifecycle(run: str, count: int) -> tuple[list, list[CaseEvent], CaseEvent]:
    """Routed calls, their steps in order, and one illegal step (resolve a case that was never accepted)."""
    rng = random.Random(run)
    queue_ids = [f"street:测试区/{run}-a", f"street:测试区/{run}-b"]
    calls = [
        factories.routed(
            f"{run}-{i}",
            received_at=datetime(2026, 4, 3, tzinfo=UTC) + timedelta(hours=5 * i),
            queue_id=queue_ids[i % 2],
            unit_name=f"{run}-{i % 2}",
            issue=rng.choice([None, "wage-arrears"]),
        )
        for i in range(count)
    ]
    steps: list[CaseEvent] = []
    for call in calls[:-1]:
        for kind in rng.choice(PATHS):
            fields: dict[str, Any] = {}
            if kind == "callback":
                fields["callback_result"] = rng.choice(["satisfied", "basically_satisfied", "dissatisfied"])
            if kind == "dispatched":
                fields["assignment"] = call.assignment.model_copy(update={"queue_id": queue_ids[1], "attempt": 2})
            if kind == "whistle":
                fields["departments"] = [f"department:{run}-城管"]
            steps.append(factories.case_step(call, kind, **fields))
    illegal = factories.case_step(calls[-1], "resolved")
    return calls, steps, illegal


async def test_the_worker_survives_sigkill_and_its_counters_equal_the_rebuilt_ones(
    worker_env, servers, tmp_path
) -> None:
    run = uuid.uuid4().hex[:8]
    database = f"test_metrics_lifecycle_{run}"
    calls, steps, illegal = lifecycle(run, 40)
    expected = {}
    for call in calls:
        case = case_document(call, "Asia/Shanghai")
        for event in [s for s in steps if s.call_id == call.call_id]:
            case = apply_case_event(case, event).case
        expected[str(call.call_id)] = case["status"]

    routed_messages = [(c.key(), c.to_bytes()) for c in calls]
    step_messages = [(s.key(), s.to_bytes()) for s in steps]
    # Duplicates: every fifth step delivered twice in a row (same event id).
    step_messages = [m for i, m in enumerate(step_messages) for _ in range(2 if i % 5 == 0 else 1)]
    first_half, second_half = step_messages[: len(step_messages) // 2], step_messages[len(step_messages) // 2 :]

    client: AsyncMongoClient = AsyncMongoClient(servers.mongodb_uri, tz_aware=True)
    db = client[database]
    env = {
        **worker_env,
        "MONGODB_DATABASE": database,
        "HOTLINE_METRICS_BATCH_SIZE": "4",
        "HOTLINE_METRICS_BATCH_WINDOW_SECONDS": "0.05",
        "HOTLINE_METRICS_DEADLINE_CHECK_SECONDS": "1",
        "HOTLINE_METRICS_PENDING_RETRY_SECONDS": "1",
    }
    log_path = tmp_path / "metrics.log"
    try:
        # Some steps come before their routed call: they wait in pending_events.
        await produce(servers.bootstrap_servers, topics.CASES_EVENTS, first_half[:10])
        with run_service("services.metrics", env, log_path) as proc:
            await produce(servers.bootstrap_servers, topics.CALLS_ROUTED, routed_messages)
            await produce(servers.bootstrap_servers, topics.CASES_EVENTS, first_half[10:])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and await db.cases.count_documents({"history.1": {"$exists": True}}) < 5:
                await asyncio.sleep(0.1)
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            proc.send_signal(signal.SIGKILL)  # mid-stream: no clean shutdown, no offset commit
            proc.wait(timeout=10)
        # The steps applied by then (each case's history opens with its first dispatch, which has no from_status).
        applied_at_kill = [
            h async for doc in db.cases.find({}, {"history": 1}) for h in doc["history"] if "from_status" in h
        ]
        assert len(applied_at_kill) < len(steps), "the worker finished before it was killed: not mid-stream"

        # Replays of already-delivered steps, the rest, and the illegal step, then a fresh worker.
        replay = first_half[:15]
        await produce(
            servers.bootstrap_servers, topics.CASES_EVENTS, [*replay, *second_half, (illegal.key(), illegal.to_bytes())]
        )
        with run_service("services.metrics", env, log_path) as proc:
            deadline = time.monotonic() + 120
            statuses: dict[str, str] = {}
            while time.monotonic() < deadline and proc.poll() is None:
                statuses = {doc["_id"]: doc["status"] async for doc in db.cases.find({}, {"status": 1})}
                rejected = await db.cases.count_documents({"history.outcome": "rejected"})
                if statuses == expected and rejected == 1 and await db.pending_events.count_documents({}) == 0:
                    break
                await asyncio.sleep(0.5)
            log = log_path.read_text(errors="replace")
            assert proc.poll() is None, log[-3000:]
            assert statuses == expected, log[-3000:]

            repository = MetricsRepository(db)
            streamed = await repository.stored_counters()
            assert streamed == await repository.computed_counters()
            for queue in await repository.queues():
                assert queue.depth == await repository.queue_depth_by_count(queue.queue_id)
            # Every applied step is in the history exactly once, whatever was redelivered.
            applied = [h["event_id"] async for doc in db.cases.find({}, {"history": 1}) for h in doc["history"]]
            assert len(applied) == len(set(applied)) == len(steps) + 1 + len(calls)  # + each first dispatch

            def is_illegal(value: bytes) -> bool:
                return json.loads(value).get("key") == str(illegal.call_id)

            dead = await read_topic(servers.bootstrap_servers, topics.DEADLETTER, bool, keep=is_illegal)
            letter = DeadLetter.model_validate_json(dead[0])
            assert letter.service == "metrics" and "illegal transition" in letter.reason

            # The deadline watcher flagged the open cases long past their April deadlines and published once each.
            overdue = await read_topic(
                servers.bootstrap_servers,
                topics.CASES_OVERDUE,
                lambda kept: len(kept) >= 1,
                keep=lambda value: json.loads(value)["call_id"] in expected,
            )
            assert overdue
    finally:
        await client.drop_database(database)
        await client.close()
