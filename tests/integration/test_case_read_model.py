"""shared.cases.CaseReadModel on the real database: what the metrics repository stored reads back typed,
the duplicate check's projection reads, and the router's wait ends with the case or with None."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import pytest

from services.metrics.repository import MetricsRepository
from services.router.duplicates import DUPLICATE_PROJECTION
from shared.cases import IDS_PER_QUERY, CaseReadModel
from tests import factories

pytestmark = pytest.mark.integration


async def test_a_stored_case_reads_back_typed_with_aware_times_and_its_history(mongo_db: Any) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    routed = factories.routed("read-model", issue="wage-arrears")
    await repository.apply_routed([routed])
    await repository.apply_case_events([factories.case_step(routed, "accepted")])
    cases = CaseReadModel(mongo_db)

    case = await cases.get(str(routed.call_id))

    assert case is not None and case.status == "accepted" and case.lead_queue == routed.assignment.queue_id
    assert case.received_at == routed.call.received_at and case.received_at.tzinfo is UTC
    assert case.assignment.response_due_at == routed.assignment.response_due_at
    assert case.classification.issue == "wage-arrears" and case.call.contact is not None
    # the first dispatch is the history's first step (issue 14), then the unit's acceptance
    assert [(step.kind, step.outcome) for step in case.history] == [("dispatched", "applied"), ("accepted", "applied")]
    assert await cases.get("no-such-case") is None
    await cases.ping()


async def test_the_duplicate_projection_reads_each_matching_case_once(mongo_db: Any) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    calls = [factories.routed(f"projected-{i}") for i in range(3)]
    await repository.apply_routed(calls)
    cases = CaseReadModel(mongo_db)
    everyone = {"status": "dispatched"}

    found = await cases.find_projected([everyone, {"_id": str(calls[0].call_id)}], DUPLICATE_PROJECTION)

    assert sorted(case.id for case in found) == sorted(str(c.call_id) for c in calls)
    assert all(case.call.body is None and case.classification.category == "劳动和社会保障" for case in found)


async def test_the_wait_ends_with_a_case_stored_meanwhile_or_with_none(mongo_db: Any) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    cases = CaseReadModel(mongo_db)
    late = factories.routed("stored-late")

    async def store_later() -> None:
        await asyncio.sleep(0.5)
        await repository.apply_routed([late])

    waited, _ = await asyncio.gather(cases.wait_until_stored(str(late.call_id), seconds=10), store_later())

    assert waited is not None and waited.id == str(late.call_id)
    assert await cases.wait_until_stored("never-stored", seconds=0.3, poll_seconds=0.1) is None


async def test_stored_calls_finds_every_stored_call_of_a_batch_longer_than_one_slice(mongo_db: Any) -> None:
    repository = MetricsRepository(mongo_db)
    routed = [factories.routed(f"resubmitted-{i}") for i in range(IDS_PER_QUERY * 2 + 7)]
    await repository.apply_routed(routed)
    asked = [str(event.call_id) for event in routed] + ["never-stored"]

    stored = await CaseReadModel(mongo_db).stored_calls(asked)

    assert sorted(stored) == sorted(asked[:-1])
    first = routed[0]
    assert stored[str(first.call_id)].external_id == first.call.external_id
