"""Who may take which case step through intake, what each step needs, and the event it becomes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.intake.cases import (
    CaseStepIn,
    case_event,
    event_id_for,
    permission_problem,
    role_of,
    status_problem,
    step_field_problems,
    steps_for,
)
from shared.api_keys import CASES_ACT, SUPERVISOR, KeyRecord
from shared.catalogue import load_catalogue
from shared.events import Assignment, CaseEventKind, UnitKind
from shared.reference import LEVEL1_CATEGORIES

STREET = "street:大兴区/西红门镇"
DEPARTMENT = "department:市城市管理委员会"
CALL_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
NOW = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Beijing


def key(name: str, *, units: tuple[str, ...] = (), supervisor: bool = False) -> KeyRecord:
    scopes = ((CASES_ACT,) if units else ()) + ((SUPERVISOR,) if supervisor else ())
    return KeyRecord(name=name, salt="s", hash="h", scopes=scopes, created_at="", units=units)


def case(status: str = "dispatched", **extra: Any) -> dict[str, Any]:
    return {
        "_id": str(CALL_ID),
        "status": status,
        "queue_id": STREET,
        "assignment": {"queue_id": STREET, "cooperating_units": [DEPARTMENT], "attempt": 1, "priority": 2},
        **extra,
    }


def step(kind: str, **fields: Any) -> CaseStepIn:
    return CaseStepIn.model_validate({"kind": kind, **fields})


def test_the_lead_unit_may_accept_but_not_close_its_case() -> None:
    street_key = key("xihongmen", units=(STREET,))
    assert role_of(street_key, case()) == "lead"
    assert permission_problem(street_key, case(), CaseEventKind.accepted) is None
    problem = permission_problem(street_key, case("resolved"), CaseEventKind.closed)
    assert problem is not None and "supervisor" in problem


def test_a_cooperating_department_takes_no_step_and_is_told_who_does() -> None:
    department_key = key("city-management", units=(DEPARTMENT,))
    assert role_of(department_key, case()) == "cooperating"
    problem = permission_problem(department_key, case("accepted"), CaseEventKind.resolved)
    assert problem is not None and STREET in problem
    assert steps_for(department_key, case("accepted")) == ("cooperating", [])


def test_a_unit_summoned_by_whistle_is_cooperating_through_queue_ids() -> None:
    summoned = "department:市生态环境局"
    assert role_of(key("ecology", units=(summoned,)), case(queue_ids=[STREET, summoned])) == "cooperating"


def test_another_unit_may_not_act_on_the_case() -> None:
    other = key("other-street", units=("street:朝阳区/望京街道",))
    problem = permission_problem(other, case(), CaseEventKind.accepted)
    assert role_of(other, case()) == "none"
    assert problem is not None and "does not act for street:大兴区/西红门镇" in problem


def test_a_key_without_case_scopes_is_refused() -> None:
    writer = KeyRecord(name="cti", salt="s", hash="h", scopes=("calls:write",), created_at="")
    problem = permission_problem(writer, case(), CaseEventKind.accepted)
    assert problem is not None and "lacks the scope" in problem


def test_a_supervisor_may_take_every_step_but_not_the_routers_link() -> None:
    boss = key("supervisor", supervisor=True)
    for kind in CaseEventKind:
        problem = permission_problem(boss, case(), kind)
        assert (problem is None) is (kind is not CaseEventKind.linked), kind


def test_steps_offered_follow_the_status_and_the_role() -> None:
    street_key, boss = key("xihongmen", units=(STREET,)), key("supervisor", supervisor=True)
    assert steps_for(street_key, case("dispatched"))[1] == [
        CaseEventKind.accepted,
        CaseEventKind.returned,
        CaseEventKind.assigned,
    ]
    assert steps_for(street_key, case("accepted"))[1] == [
        CaseEventKind.responded,
        CaseEventKind.returned,
        CaseEventKind.whistle,
        CaseEventKind.assigned,
    ]
    assert CaseEventKind.reclassified in steps_for(boss, case("accepted"))[1]
    assert steps_for(boss, case("resolved"))[1] == [
        CaseEventKind.callback,
        CaseEventKind.reopened,
        CaseEventKind.closed,
    ]


def test_an_illegal_step_gives_the_lifecycle_reason() -> None:
    status, reason = status_problem(case("dispatched"), CaseEventKind.resolved)
    assert status == "dispatched"
    assert reason == "'resolved' is not allowed when the case is 'dispatched' (only when: responded)"
    assert status_problem(case("dispatched"), CaseEventKind.accepted) == ("accepted", None)


def test_a_status_this_version_does_not_know_is_a_conflict_not_a_crash() -> None:
    _, reason = status_problem(case("archived"), CaseEventKind.accepted)
    assert reason is not None and "archived" in reason


def problems(s: CaseStepIn) -> list[str]:
    catalogue = load_catalogue()
    found = step_field_problems(
        s,
        department_queues=catalogue.department_queues(),
        categories=LEVEL1_CATEGORIES,
        queue_is_known=lambda q: q in {STREET, "manual:dispatch"},
    )
    return [p["loc"][-1] for p in found]


@pytest.mark.parametrize(
    ("submitted", "missing"),
    [
        (step("whistle"), ["departments"]),
        (step("whistle", departments=["department:市不存在局"]), ["departments"]),
        (step("whistle", departments=[STREET]), ["departments"]),
        (step("callback"), ["callback_result"]),
        (step("returned"), ["note"]),
        (step("returned", note="  "), ["note"]),
        (step("reclassified"), ["classification"]),
        (step("reclassified", classification={"category": "住房"}), ["classification"]),
        (step("dispatched"), ["queue_id"]),
        (step("dispatched", queue_id="street:大兴区/不存在镇"), ["queue_id"]),
    ],
)
def test_steps_missing_what_they_need_are_refused(submitted: CaseStepIn, missing: list[str]) -> None:
    assert problems(submitted) == missing


@pytest.mark.parametrize(
    "submitted",
    [
        step("accepted"),
        step("whistle", departments=[DEPARTMENT, "department:市生态环境局"]),
        step("callback", callback_result="basically_satisfied"),
        step("returned", note="不属于本街道"),
        step("reclassified", classification={"category": "城乡建设", "subcategory": "市政设施"}),
        step("dispatched", queue_id=STREET),
    ],
)
def test_complete_steps_pass(submitted: CaseStepIn) -> None:
    assert problems(submitted) == []


def test_idempotency_key_gives_the_same_event_id_per_case_and_key() -> None:
    first = event_id_for(CALL_ID, "xihongmen", "abc")
    assert first == event_id_for(CALL_ID, "xihongmen", "abc")
    assert first != event_id_for(CALL_ID, "other", "abc")
    assert first != event_id_for(uuid.uuid4(), "xihongmen", "abc")
    assert event_id_for(CALL_ID, "xihongmen", None) != event_id_for(CALL_ID, "xihongmen", None)


def test_whistle_event_names_the_lead_queue_and_the_departments_once() -> None:
    event = case_event(
        step("whistle", departments=[DEPARTMENT, DEPARTMENT], note="吹哨"),
        case("accepted"),
        key("xihongmen", units=(STREET,)),
        call_id=CALL_ID,
        event_id=uuid.uuid4(),
        catalogue=load_catalogue(),
        now=NOW,
    )
    assert event.kind is CaseEventKind.whistle
    assert event.actor == "xihongmen" and event.actor_queue == STREET
    assert event.departments == [DEPARTMENT]


def test_a_supervisors_dispatch_is_the_next_attempt_to_the_named_queue() -> None:
    assignment = supervisors_dispatch(case("returned"), "department:市水务局")
    assert assignment.queue_id == "department:市水务局"
    assert assignment.unit_kind is UnitKind.department
    assert assignment.attempt == 2
    assert assignment.catalogue_version == load_catalogue().version


def test_a_manual_dispatch_keeps_the_cases_service_terms_from_the_dispatch_on() -> None:
    """Issue 14: 人工派单 wiped both deadlines (null), so the case could never go overdue."""
    gas_leak = case(
        "dispatched",
        assignment={
            "queue_id": DEPARTMENT,
            "rule_id": "urgent-gas-leak",
            "attempt": 1,
            "priority": 1,
            "response_due_at": NOW - timedelta(minutes=5),
            "resolution_due_at": NOW + timedelta(hours=23),
        },
    )
    assignment = supervisors_dispatch(gas_leak, "department:市应急管理局")
    terms = load_catalogue().rule("urgent-gas-leak")
    assert terms is not None
    assert assignment.response_due_at == NOW + timedelta(hours=terms.assign.response_hours)
    assert assignment.resolution_due_at == NOW + timedelta(days=terms.assign.resolution_days)
    assert assignment.priority == terms.assign.priority == 1


def test_a_case_from_the_manual_queue_gets_the_district_sub_centres_terms() -> None:
    waiting = case(
        "dispatched", queue_id="manual:dispatch", assignment={"queue_id": "manual:dispatch", "rule_id": None}
    )
    assignment = supervisors_dispatch(waiting, STREET)
    assert assignment.response_due_at == NOW + timedelta(hours=24)
    assert assignment.resolution_due_at == NOW + timedelta(days=10)


def supervisors_dispatch(stored: dict[str, Any], queue_id: str) -> Assignment:
    event = case_event(
        step("dispatched", queue_id=queue_id, note="人工派单"),
        stored,
        key("supervisor", supervisor=True),
        call_id=CALL_ID,
        event_id=uuid.uuid4(),
        catalogue=load_catalogue(),
        now=NOW,
    )
    assert event.assignment is not None and event.actor_queue is None
    return event.assignment


def test_reclassification_carries_an_operator_classification() -> None:
    event = case_event(
        step("reclassified", classification={"category": "环境保护"}),
        case("accepted"),
        key("supervisor", supervisor=True),
        call_id=CALL_ID,
        event_id=uuid.uuid4(),
        catalogue=load_catalogue(),
        now=NOW,
    )
    assert event.classification is not None
    assert event.classification.category == "环境保护"
    assert event.classification.model_version == "operator:supervisor"


def test_a_department_holding_a_case_may_not_whistle_but_a_street_may() -> None:
    department_key = key("urban", units=(DEPARTMENT,))
    held_by_department = case("accepted", queue_id=DEPARTMENT, assignment={"queue_id": DEPARTMENT})
    assert role_of(department_key, held_by_department) == "lead"
    problem = permission_problem(department_key, held_by_department, CaseEventKind.whistle)
    assert problem is not None and "street/town" in problem
    assert CaseEventKind.whistle not in steps_for(department_key, held_by_department)[1]
    assert permission_problem(key("xihongmen", units=(STREET,)), case("accepted"), CaseEventKind.whistle) is None
