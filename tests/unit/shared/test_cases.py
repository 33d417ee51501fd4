"""shared.cases.CaseDocument reads every field the metrics writer stores, exactly as stored (no field the
model does not know, no value it changes), through a case's whole life; and it reads old or partial
documents, as the router's duplicate projection returns them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.metrics.case_facts import apply_case_event, case_document, flag_overdue
from shared.cases import CaseDocument
from shared.clock import DEFAULT_TIMEZONE
from shared.events import Assignment, CallbackResult, Classification, DeadlineKind, UnitKind
from tests import factories

DEPARTMENT = "department:市城市管理委员会"


def read_back(document: dict[str, Any]) -> dict[str, Any]:
    return CaseDocument.model_validate(document).model_dump(by_alias=True, exclude_unset=True)


def test_every_field_the_writer_stores_is_read_back_unchanged_through_a_cases_life() -> None:
    routed = factories.routed("doc-model", issue="wage-arrears")
    case = case_document(routed, DEFAULT_TIMEZONE)
    assert read_back(case) == case
    now = routed.call.received_at + timedelta(hours=3)
    case, _ = flag_overdue(case, DeadlineKind.response, now)
    reassigned = Assignment(
        queue_id=DEPARTMENT, unit_kind=UnitKind.department, unit_name="市城市管理委员会", catalogue_version="v",
        reason="人工派单", attempt=2, response_due_at=now + timedelta(hours=2),
    )  # fmt: skip
    steps = [
        factories.case_step(routed, "resolved", actor="t"),  # rejected: not legal when dispatched
        factories.case_step(routed, "returned", actor="t", note="不归我们管"),
        factories.case_step(routed, "dispatched", actor="router", assignment=reassigned),
        factories.case_step(routed, "accepted", actor="t", actor_queue=DEPARTMENT),
        factories.case_step(routed, "whistle", actor="t", departments=["department:市生态环境局"]),
        factories.case_step(routed, "responded", actor="t"),
        factories.case_step(routed, "resolved", actor="t"),
        factories.case_step(routed, "callback", actor="s", callback_result=CallbackResult.satisfied),
        factories.case_step(routed, "reopened", actor="s"),
        factories.case_step(
            routed, "reclassified", actor="s",
            classification=Classification(category="城乡建设", confidence=1.0, model_version="operator:s"),
        ),
    ]  # fmt: skip
    for event in steps:
        case = apply_case_event(case, event).case
        assert read_back(case) == case, event.kind
    stored = CaseDocument.model_validate(case)
    assert [(step.kind, step.outcome) for step in stored.history][:3] == [
        ("dispatched", "applied"), ("resolved", "rejected"), ("returned", "applied")
    ]  # fmt: skip
    assert stored.lead_queue == DEPARTMENT and stored.returned_count == 1 and stored.reopened_count == 1
    assert stored.overdue["response"].queue_id == "street:大兴区/西红门镇"


def test_a_partial_document_reads_with_defaults_and_naive_times_as_utc() -> None:
    case = CaseDocument.model_validate(
        {"_id": "c1", "status": "dispatched", "received_at": datetime(2026, 4, 10, 2), "assignment": {"attempt": 2}}
    )
    assert case.received_at == datetime(2026, 4, 10, 2, tzinfo=UTC)
    assert case.assignment.attempt == 2 and case.assignment.queue_id is None and case.lead_queue is None
    assert case.call.contact is None and case.history == [] and case.classification.category is None
    assert CaseDocument.of(case) is case
