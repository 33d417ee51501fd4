"""The router worker as a process: classified calls on the bus come back routed, poison is dead-lettered."""

from __future__ import annotations

import json
import uuid

import pytest

from shared import topics
from shared.events import CallRouted, DeadLetter, UnitKind, utc_now
from shared.queues import is_urgent
from tests import factories
from tests.helpers import produce, read_topic, run_service

pytestmark = pytest.mark.integration


async def test_the_worker_routes_a_classified_call_and_dead_letters_poison(worker_env, servers, tmp_path) -> None:
    run = uuid.uuid4().hex[:10]
    classified = factories.classified(
        factories.call(
            f"router-it-{run}",
            body="工地老板拖欠我们三个月工资，一直不给",
            address="大兴区西红门那边的宏福苑小区",
            received_at=utc_now(),
        ),
        factories.classification("劳动和社会保障", issue="wage-arrears", confidence=0.93),
    )
    # A gas leak the classifier is unsure of: urgent to the gas company at once, never held in 人工分拣.
    gas_leak = factories.classified(
        factories.call(
            f"router-gas-{run}", body="楼道里一股很浓的煤气味", address="西城区大栅栏", received_at=utc_now()
        ),
        factories.classification("环境保护", confidence=0.39, needs_review=True),
    )
    poison_key = f"router-poison-{run}".encode()
    log_path = tmp_path / "router.log"

    with run_service("services.router", worker_env, log_path) as proc:
        await produce(
            servers.bootstrap_servers,
            topics.CALLS_CLASSIFIED,
            [
                (classified.key(), classified.to_bytes()),
                (gas_leak.key(), gas_leak.to_bytes()),
                (poison_key, b'{"event_type": "call.classified"}'),
            ],
        )
        ours = {str(classified.call_id), str(gas_leak.call_id)}

        def is_our_call(value: bytes) -> bool:
            return json.loads(value).get("call_id") in ours

        routed_values = await read_topic(
            servers.bootstrap_servers, topics.CALLS_ROUTED, lambda kept: len(kept) >= 2, keep=is_our_call, timeout=90
        )
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
        assert len(routed_values) == 2, log_path.read_text(errors="replace")[-3000:]
        by_call = {str(r.call_id): r for r in map(CallRouted.model_validate_json, routed_values)}
        urgent = by_call[str(gas_leak.call_id)].assignment
        assert (urgent.queue_id, urgent.rule_id) == ("department:北京市燃气集团", "urgent-gas-leak")
        assert is_urgent(urgent.priority) and "urgent before review" in urgent.reason
        routed = by_call[str(classified.call_id)]
        assert routed.call == classified.call
        assignment = routed.assignment
        assert assignment.queue_id == "department:市人力资源和社会保障局劳动保障监察总队"
        assert assignment.unit_kind is UnitKind.department
        assert "street:大兴区/西红门镇" in assignment.cooperating_units
        assert assignment.rule_id == "wage-arrears"
        assert assignment.response_due_at is not None

        def is_our_poison(value: bytes) -> bool:
            return json.loads(value).get("key") == poison_key.decode()

        dead = await read_topic(
            servers.bootstrap_servers, topics.DEADLETTER, lambda kept: bool(kept), keep=is_our_poison, timeout=60
        )
        assert len(dead) == 1
        letter = DeadLetter.model_validate_json(dead[0])
        assert letter.service == "router"
        assert letter.source_topic == topics.CALLS_CLASSIFIED
        assert "invalid CallClassified" in letter.reason
