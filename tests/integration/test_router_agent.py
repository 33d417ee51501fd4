"""The router worker as a process: classified calls on the bus come back routed, poison is dead-lettered."""

from __future__ import annotations

import json
import uuid

import pytest

from shared import topics
from shared.events import CallRouted, DeadLetter, UnitKind, utc_now
from tests import factories
from tests.helpers import produce, read_topic, run_service

pytestmark = pytest.mark.integration


async def test_the_worker_routes_a_classified_call_and_dead_letters_poison(server_env, servers, tmp_path) -> None:
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
    poison_key = f"router-poison-{run}".encode()
    log_path = tmp_path / "router.log"

    with run_service("services.router", server_env, log_path) as proc:
        await produce(
            servers.bootstrap_servers,
            topics.CALLS_CLASSIFIED,
            [(classified.key(), classified.to_bytes()), (poison_key, b'{"event_type": "call.classified"}')],
        )

        def is_our_call(value: bytes) -> bool:
            return json.loads(value).get("call_id") == str(classified.call_id)

        routed_values = await read_topic(
            servers.bootstrap_servers, topics.CALLS_ROUTED, lambda kept: bool(kept), keep=is_our_call, timeout=90
        )
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
        assert len(routed_values) == 1, log_path.read_text(errors="replace")[-3000:]
        routed = CallRouted.model_validate_json(routed_values[0])
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
