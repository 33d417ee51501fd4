"""shared.lifecycle's rules of who takes which step and what a step needs, and that intake and the
console apply the same ones: the console offers exactly what intake would accept."""

from __future__ import annotations

import uuid

import pytest

from services.console.access import offered_steps
from services.console.users import Role, User
from services.intake.cases import steps_for
from shared.api_keys import CASES_ACT, SUPERVISOR, KeyRecord
from shared.events import Assignment, CallbackResult, CaseEventKind, UnitKind
from shared.lifecycle import STEP_NEEDS, CaseStatus, may_take, missing_payload, permitted_steps
from tests import factories

STREET = "street:大兴区/西红门镇"
DEPARTMENT = "department:市城市管理委员会"


def test_the_router_link_is_nobodys_to_take_and_supervisor_steps_are_not_a_units() -> None:
    assert not may_take("supervisor", CaseEventKind.linked, lead_queue=STREET)
    assert may_take("supervisor", CaseEventKind.closed, lead_queue=STREET)
    assert not may_take("lead", CaseEventKind.closed, lead_queue=STREET)
    assert may_take("lead", CaseEventKind.whistle, lead_queue=STREET)
    assert not may_take("lead", CaseEventKind.whistle, lead_queue=DEPARTMENT)
    assert not may_take("cooperating", CaseEventKind.accepted, lead_queue=STREET)
    assert permitted_steps("lead", "archived", lead_queue=STREET) == []


@pytest.mark.parametrize("status", list(CaseStatus))
@pytest.mark.parametrize(
    ("console_user", "intake_key", "queue"),
    [
        (User("s", Role.street, STREET, "k", "p", "0", "h", ""), (CASES_ACT,), STREET),
        (User("d", Role.department, DEPARTMENT, "k", "p", "0", "h", ""), (CASES_ACT,), DEPARTMENT),
        (User("b", Role.supervisor, None, "k", "p", "0", "h", ""), (SUPERVISOR,), STREET),
    ],
)
def test_the_console_offers_exactly_what_intake_accepts(
    status: CaseStatus, console_user: User, intake_key: tuple[str, ...], queue: str
) -> None:
    case = {"_id": "c", "status": status.value, "queue_id": queue, "assignment": {"queue_id": queue}}
    api_key = KeyRecord(name="k", salt="s", hash="h", scopes=intake_key, created_at="", units=(queue,))
    assert set(offered_steps(console_user, case)) == set(steps_for(api_key, case)[1])


def test_a_stored_step_without_its_payload_is_found_missing() -> None:
    call_id = uuid.uuid4()
    assert missing_payload(factories.case_step(call_id, CaseEventKind.whistle)) == STEP_NEEDS[CaseEventKind.whistle]
    missing = missing_payload(factories.case_step(call_id, CaseEventKind.callback))
    assert missing is not None and missing.field == "callback_result"
    complete = factories.case_step(call_id, CaseEventKind.callback, callback_result=CallbackResult.satisfied)
    assert missing_payload(complete) is None
    assert missing_payload(factories.case_step(call_id, CaseEventKind.accepted)) is None
    dispatched = factories.case_step(
        call_id,
        CaseEventKind.dispatched,
        assignment=Assignment(
            queue_id=STREET, unit_kind=UnitKind.street, unit_name="西红门镇", catalogue_version="v", reason="r"
        ),
    )
    assert missing_payload(dispatched) is None
