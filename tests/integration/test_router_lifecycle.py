"""The router worker as a process: a returned case is re-dispatched twice, then goes to manual dispatch;
a call duplicating an open case is linked to it. Case documents are inserted here as metrics would."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared import topics
from shared.events import CallRouted, CaseEvent, CaseEventKind, derived_event_id, utc_now
from tests import factories
from tests.helpers import produce, read_topic, run_service

pytestmark = pytest.mark.integration


def wage_case(call_id: str) -> dict[str, Any]:
    return {
        "_id": call_id,
        "status": "dispatched",
        "queue_id": "department:市人力资源和社会保障局劳动保障监察总队",
        "received_at": datetime.now(UTC) - timedelta(hours=1),
        "call": {"channel": "phone", "subject": "", "body": "工地老板拖欠我们三个月工资",
                 "location": {"address": "大兴区西红门那边的宏福苑小区"}},
        "classification": {"category": "劳动和社会保障", "issue": "wage-arrears", "confidence": 0.93},
        "assignment": {"queue_id": "department:市人力资源和社会保障局劳动保障监察总队", "unit_kind": "department",
                       "rule_id": "wage-arrears", "attempt": 1, "district": "大兴区", "street": "西红门镇"},
    }  # fmt: skip


async def dispatched_for(bootstrap: str, trigger: CaseEvent) -> CaseEvent:
    wanted = str(derived_event_id(trigger.event_id, "dispatched"))
    [value] = await read_topic(
        bootstrap,
        topics.CASES_EVENTS,
        lambda kept: bool(kept),
        keep=lambda v: json.loads(v).get("event_id") == wanted,
        timeout=90,
    )
    return CaseEvent.model_validate_json(value)


def env_for(worker_env: dict[str, str], mongo_db: Any) -> dict[str, str]:
    return {**worker_env, "MONGODB_DATABASE": mongo_db.name, "HOTLINE_ROUTER_MAX_RETURNS": "2"}


async def test_a_case_returned_three_times_is_redispatched_twice_then_goes_to_manual_dispatch(
    worker_env: dict[str, str], servers: Any, mongo_db: Any, tmp_path: Path
) -> None:
    call_id = str(uuid.uuid4())
    await mongo_db["cases"].insert_one(wage_case(call_id))
    log_path = tmp_path / "router.log"
    queues: list[tuple[str, int]] = []
    with run_service("services.router", env_for(worker_env, mongo_db), log_path) as proc:
        for round_ in range(3):
            returned = factories.case_step(
                uuid.UUID(call_id), CaseEventKind.returned, actor="unit", note=f"不归我们管 {round_}"
            )
            await produce(servers.bootstrap_servers, topics.CASES_EVENTS, [(returned.key(), returned.to_bytes())])
            dispatched = await dispatched_for(servers.bootstrap_servers, returned)
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert dispatched.actor == "router" and dispatched.assignment is not None
            assignment = dispatched.assignment
            queues.append((assignment.queue_id, assignment.attempt))
            # what the metrics service does with the dispatched step
            await mongo_db["cases"].update_one(
                {"_id": call_id},
                {"$set": {"status": "dispatched", "queue_id": assignment.queue_id,
                          "assignment": assignment.model_dump(mode="json")}},
            )  # fmt: skip
    assert queues == [
        ("department:市人力资源和社会保障局", 2),
        ("district:大兴区", 3),
        ("manual:dispatch", 4),
    ]


async def test_a_call_duplicating_an_open_case_is_linked_to_it_in_the_same_queue(
    worker_env: dict[str, str], servers: Any, mongo_db: Any, tmp_path: Path
) -> None:
    open_id = str(uuid.uuid4())
    open_case = wage_case(open_id)
    open_case["assignment"]["unit_name"] = "市人力资源和社会保障局劳动保障监察总队"
    await mongo_db["cases"].insert_one(open_case)
    external_id = f"dup-{uuid.uuid4().hex[:8]}"
    classified = factories.classified(
        factories.call(
            external_id, body="老板还是不发工资", address="大兴区西红门那边的宏福苑小区", received_at=utc_now()
        ),
        factories.classification("劳动和社会保障", issue="wage-arrears"),
    )
    log_path = tmp_path / "router.log"
    with run_service("services.router", env_for(worker_env, mongo_db), log_path) as proc:
        await produce(servers.bootstrap_servers, topics.CALLS_CLASSIFIED, [(classified.key(), classified.to_bytes())])
        mine = str(classified.call_id)
        routed_values = await read_topic(
            servers.bootstrap_servers, topics.CALLS_ROUTED, lambda kept: bool(kept),
            keep=lambda v: json.loads(v).get("call_id") == mine, timeout=90,
        )  # fmt: skip
        linked_values = await read_topic(
            servers.bootstrap_servers, topics.CASES_EVENTS, lambda kept: bool(kept),
            keep=lambda v: json.loads(v).get("call_id") == mine and json.loads(v).get("kind") == "linked", timeout=60,
        )  # fmt: skip
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
    routed = CallRouted.model_validate_json(routed_values[0])
    assert str(routed.assignment.duplicate_of) == open_id
    assert routed.assignment.queue_id == "department:市人力资源和社会保障局劳动保障监察总队"
    [linked] = [CaseEvent.model_validate_json(v) for v in linked_values]
    assert str(linked.linked_to) == open_id and linked.actor == "router"
