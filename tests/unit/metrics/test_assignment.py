"""承办人: assigning a case to a named operator of its lead unit — the lifecycle rule, the stored case, the
queue's load counters, the search filter and intake's step (pure, no database)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import pytest

from services.intake.cases import CaseStepIn, case_event, permission_problem, status_problem, step_field_problems
from services.metrics.aggregates import CounterChanges, case_contributions, sum_contributions
from services.metrics.case_facts import apply_case_event, case_document
from services.metrics.case_search import CaseFilter
from shared.api_keys import CASES_ACT, SUPERVISOR, KeyRecord
from shared.catalogue import load_catalogue
from shared.events import CaseEvent, CaseEventKind, UnitKind
from shared.lifecycle import (
    STEP_NEEDS,
    CaseStatus,
    IllegalTransition,
    assignee_problem,
    may_take,
    missing_payload,
    next_status,
)
from tests import factories

TZ = "Asia/Shanghai"
STREET = "street:大兴区/西红门镇"
QUEUE = f"queue|{STREET}"


def walk(case: dict, *events: CaseEvent) -> dict:
    for event in events:
        case = apply_case_event(case, event).case
    return case


def assign(of: object, name: str | None) -> CaseEvent:
    return factories.case_step(of, CaseEventKind.assigned, assignee=name)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", ["dispatched", "accepted", "responded"])
def test_assigning_is_legal_while_a_unit_holds_the_case_and_keeps_the_status(status: str) -> None:
    assert next_status(status, CaseEventKind.assigned) == CaseStatus(status)


@pytest.mark.parametrize("status", ["returned", "resolved", "called_back", "closed", "linked"])
def test_assigning_is_refused_when_no_unit_handles_the_case(status: str) -> None:
    with pytest.raises(IllegalTransition):
        next_status(status, CaseEventKind.assigned)


def test_the_lead_unit_and_a_supervisor_assign_a_cooperating_unit_does_not() -> None:
    assert may_take("lead", CaseEventKind.assigned, lead_queue=STREET)
    assert may_take("lead", CaseEventKind.assigned, lead_queue="department:市民政局")
    assert may_take("supervisor", CaseEventKind.assigned, lead_queue=STREET)
    assert not may_take("cooperating", CaseEventKind.assigned, lead_queue=STREET)
    assert not may_take("none", CaseEventKind.assigned, lead_queue=STREET)


def test_an_assignment_without_a_name_or_with_a_blank_one_is_missing_its_payload() -> None:
    call_id = uuid.uuid4()
    assert missing_payload(assign(call_id, None)) == STEP_NEEDS[CaseEventKind.assigned]
    assert missing_payload(assign(call_id, "   ")) == STEP_NEEDS[CaseEventKind.assigned]
    assert missing_payload(assign(call_id, "wang")) is None


def test_assigning_and_reassigning_keep_the_status_and_record_who_before_whom() -> None:
    event = factories.routed("assign")
    case = walk(case_document(event, TZ), factories.case_step(event, "accepted"), assign(event, "wang"))
    assert (case["status"], case["assignee"]) == ("accepted", "wang")

    again = walk(case, assign(event, "li"))

    assert (again["status"], again["assignee"]) == ("accepted", "li")
    steps = [step for step in again["history"] if step["kind"] == "assigned"]
    assert [(s["assignee"], s.get("previous_assignee"), s["outcome"]) for s in steps] == [
        ("wang", None, "applied"),
        ("li", "wang", "applied"),
    ]
    assert all(s["from_status"] == s["to_status"] == "accepted" for s in steps)


def test_a_redelivered_assignment_is_applied_once() -> None:
    event = factories.routed("assign-twice")
    step = assign(event, "wang")
    case = walk(case_document(event, TZ), step)

    again = apply_case_event(case, step)

    assert again.outcome == "duplicate" and again.case["history"] == case["history"]


def test_an_assignment_of_a_returned_case_is_rejected_and_recorded() -> None:
    event = factories.routed("assign-returned")
    case = walk(case_document(event, TZ), factories.case_step(event, "returned", note="不归我们"))

    outcome = apply_case_event(case, assign(event, "wang"))

    assert outcome.outcome == "rejected" and "assignee" not in outcome.case
    assert outcome.case["history"][-1]["outcome"] == "rejected"


@pytest.mark.parametrize("kind", ["returned", "reclassified"])
def test_a_case_leaving_its_unit_loses_its_assignee(kind: str) -> None:
    event = factories.routed(f"leave-{kind}")
    fields: dict = {"note": "不归我们"} if kind == "returned" else {"classification": event.classification}
    case = walk(case_document(event, TZ), assign(event, "wang"), factories.case_step(event, kind, **fields))

    assert "assignee" not in case and "assigned_at" not in case
    assert case_contributions(case)[QUEUE].get("unassigned") == 1


def test_a_redispatch_clears_the_assignee_and_moves_the_load() -> None:
    event = factories.routed("redispatch")
    new = event.assignment.model_copy(
        update={"queue_id": "department:市民政局", "unit_kind": UnitKind.department, "unit_name": "市民政局"}
    )
    assigned = walk(case_document(event, TZ), assign(event, "wang"))
    # A supervisor moves a dispatched case straight to another unit (人工派单).
    moved = walk(assigned, factories.case_step(event, "dispatched", assignment=new))

    changes = CounterChanges()
    changes.add_case(assigned, moved)

    amounts = changes.nonzero()
    assert amounts[QUEUE] == {"open": -1, "dispatched": -1, "assignees.wang": -1}
    assert amounts["queue|department:市民政局"] == {"open": 1, "dispatched": 1, "unassigned": 1}
    assert "assignee" not in moved


def test_the_queue_counter_splits_its_open_cases_into_assignees_and_unassigned() -> None:
    cases = [case_document(factories.routed(f"load-{n}"), TZ) for n in range(4)]
    cases[0] = walk(cases[0], assign(factories.routed("load-0"), "wang"))
    cases[1] = walk(cases[1], assign(factories.routed("load-1"), "wang"))
    cases[2] = walk(cases[2], assign(factories.routed("load-2"), "li.na"))
    resolved = factories.routed("load-3")
    cases[3] = walk(
        cases[3],
        assign(resolved, "li.na"),
        *(factories.case_step(resolved, kind) for kind in ("accepted", "responded", "resolved")),
    )

    queue = sum_contributions(cases)[QUEUE]

    # A name with a dot is stored under a field key (no dot); a resolved case no longer loads its assignee.
    assert queue == {"dispatched": 4, "open": 3, "assignees.wang": 2, "assignees.li\uff0ena": 1}
    assert queue["open"] == sum(v for k, v in queue.items() if k.startswith("assignees.")) + queue.get("unassigned", 0)


def test_streamed_assignments_sum_to_the_rebuilt_counters() -> None:
    event = factories.routed("assign-sum")
    states = [case_document(event, TZ)]
    for step in (assign(event, "wang"), factories.case_step(event, "accepted"), assign(event, "li")):
        states.append(apply_case_event(states[-1], step).case)
    changes = CounterChanges()
    changes.add_case(None, states[0])
    for before, after in itertools.pairwise(states):
        changes.add_case(before, after)

    assert changes.nonzero() == sum_contributions([states[-1]])
    assert sum_contributions([states[-1]])[QUEUE] == {"dispatched": 1, "open": 1, "assignees.li": 1}


def test_the_search_filters_by_assignee_or_unassigned() -> None:
    assert CaseFilter(queue_id=STREET, assignee="wang").query()["assignee"] == "wang"
    assert CaseFilter(queue_id=STREET, unassigned=True).query()["assignee"] is None
    assert "assignee" not in CaseFilter(queue_id=STREET).query()


def _key(*scopes: str, units: tuple[str, ...] = (STREET,)) -> KeyRecord:
    return KeyRecord(name="console:wang", salt="s", hash="h", scopes=scopes, created_at="", units=units)


def test_intake_takes_an_assignment_of_the_lead_unit_and_asks_for_the_name() -> None:
    case = {"_id": "c", "status": "accepted", "queue_id": STREET, "assignment": {"queue_id": STREET}}
    assert permission_problem(_key(CASES_ACT), case, CaseEventKind.assigned) is None
    assert permission_problem(_key(SUPERVISOR), case, CaseEventKind.assigned) is None
    assert permission_problem(_key(CASES_ACT, units=("department:市民政局",)), case, CaseEventKind.assigned)
    blank = step_field_problems(
        CaseStepIn(kind=CaseEventKind.assigned, assignee="  "),
        department_queues=(),
        categories=(),
        queue_is_known=lambda _: True,
    )
    assert [p["loc"] for p in blank] == [["body", "assignee"]]

    step = CaseStepIn(kind=CaseEventKind.assigned, assignee=" wang ")
    call_id = uuid.uuid4()
    key, catalogue, now = _key(CASES_ACT), load_catalogue(), datetime.now(UTC)
    made = case_event(step, case, key, call_id=call_id, event_id=uuid.uuid4(), catalogue=catalogue, now=now)
    assert (made.kind, made.assignee, made.actor_queue) == (CaseEventKind.assigned, "wang", STREET)


def test_a_resolved_case_keeps_its_assignee_out_of_the_load_and_a_reopened_one_counts_again() -> None:
    event = factories.routed("reopen")
    steps = [factories.case_step(event, kind) for kind in ("accepted", "responded", "resolved")]
    resolved = walk(case_document(event, TZ), assign(event, "wang"), *steps)
    assert resolved["assignee"] == "wang" and "assignees.wang" not in case_contributions(resolved).get(QUEUE, {})

    reopened = walk(resolved, factories.case_step(event, "reopened"))

    assert (reopened["status"], reopened["assignee"]) == ("accepted", "wang")
    assert case_contributions(reopened)[QUEUE]["assignees.wang"] == 1


def test_taking_a_case_back_clears_its_assignee_keeps_the_status_and_moves_the_load() -> None:
    event = factories.routed("take-back")
    assigned = walk(case_document(event, TZ), factories.case_step(event, "accepted"), assign(event, "wang"))
    back = factories.case_step(event, CaseEventKind.unassigned)

    outcome = apply_case_event(assigned, back)

    case = outcome.case
    assert outcome.outcome == "applied" and case["status"] == "accepted"
    assert "assignee" not in case and "assigned_at" not in case
    step = case["history"][-1]
    assert (step["kind"], step.get("previous_assignee"), step["from_status"], step["to_status"]) == (
        "unassigned",
        "wang",
        "accepted",
        "accepted",
    )
    changes = CounterChanges()
    changes.add_case(assigned, case)
    assert changes.nonzero()[QUEUE] == {"assignees.wang": -1, "unassigned": 1}
    assert apply_case_event(case, back).outcome == "duplicate"


def test_taking_back_a_case_no_operator_holds_is_refused_by_intake_and_by_the_writer() -> None:
    assert assignee_problem(CaseEventKind.unassigned, None)
    assert assignee_problem(CaseEventKind.unassigned, "wang") is None
    assert assignee_problem(CaseEventKind.assigned, None) is None
    event = factories.routed("take-back-none")
    case = case_document(event, TZ)

    outcome = apply_case_event(case, factories.case_step(event, CaseEventKind.unassigned))

    assert outcome.outcome == "rejected" and "none is assigned" in str(outcome.reason)
    stored = {"_id": "c", "status": "accepted", "queue_id": STREET, "assignment": {"queue_id": STREET}}
    assert status_problem(stored, CaseEventKind.unassigned) == ("accepted", assignee_problem("unassigned", None))
    assert status_problem({**stored, "assignee": "wang"}, CaseEventKind.unassigned) == ("accepted", None)
    assert permission_problem(_key(CASES_ACT), stored, CaseEventKind.unassigned) is None
    assert permission_problem(_key(CASES_ACT, units=("department:市民政局",)), stored, CaseEventKind.unassigned)
