"""Who sees and does what in the console: queues, cases and the steps offered per role and status."""

from __future__ import annotations

from typing import Any

import pytest

from services.console.access import (
    agreed_steps,
    can_see_case,
    can_see_queue,
    offered_steps,
    role_in_queue,
    visible_queues,
)
from services.console.users import Role, User

XHM = "street:大兴区/西红门镇"
WANGJING = "street:朝阳区/望京街道"
LABOUR = "department:市人力资源社会保障局"
HOUSING = "department:市住房和城乡建设委员会"


def user(role: Role, queue: str | None) -> User:
    return User("u", role, queue, "console:u", "hl_x", "00", "h", "2026-01-01")


STREET, DEPARTMENT, SUPERVISOR = user(Role.street, XHM), user(Role.department, LABOUR), user(Role.supervisor, None)


def case(queue_id: str, status: str = "dispatched", cooperating: list[str] | None = None) -> dict[str, Any]:
    return {"queue_id": queue_id, "status": status, "assignment": {"cooperating_units": cooperating or []}}


def test_a_street_operator_sees_its_own_queue_only_and_a_supervisor_every_queue() -> None:
    queues = [{"queue_id": q} for q in (XHM, WANGJING, LABOUR)]
    assert [q["queue_id"] for q in visible_queues(STREET, queues)] == [XHM]
    assert [q["queue_id"] for q in visible_queues(SUPERVISOR, queues)] == [XHM, WANGJING, LABOUR]
    assert not can_see_queue(STREET, WANGJING) and can_see_queue(SUPERVISOR, WANGJING)


def test_an_operator_whose_queue_is_still_empty_still_sees_it() -> None:
    assert [q["queue_id"] for q in visible_queues(STREET, [{"queue_id": WANGJING}])] == [XHM]


def test_an_operator_sees_the_cases_its_unit_cooperates_on_street_or_department() -> None:
    """Issue 14: a street's queue listed the cases it cooperates on (吹哨报到) but opening one gave 404."""
    cooperating = case(WANGJING, cooperating=[LABOUR, XHM])
    assert can_see_case(DEPARTMENT, cooperating)
    assert can_see_case(STREET, cooperating)
    assert role_in_queue(cooperating, XHM) == "cooperating" and role_in_queue(cooperating, WANGJING) == "lead"
    assert not can_see_case(STREET, case(WANGJING, cooperating=[LABOUR]))
    assert not can_see_case(DEPARTMENT, case(WANGJING, cooperating=[HOUSING]))
    assert can_see_case(SUPERVISOR, case(WANGJING))


def test_a_whistle_adds_the_summoned_department_as_cooperating() -> None:
    assert can_see_case(DEPARTMENT, {**case(XHM, "accepted"), "cooperating_units": [LABOUR]})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("dispatched", ["accepted", "returned", "assigned"]),
        ("accepted", ["responded", "whistle", "returned", "assigned"]),
        ("responded", ["whistle", "resolved", "assigned"]),
        ("resolved", []),
        ("closed", []),
    ],
)
def test_the_holding_street_is_offered_the_legal_unit_steps_of_each_status(status: str, expected: list[str]) -> None:
    assert offered_steps(STREET, case(XHM, status)) == expected


def test_a_department_is_not_offered_a_whistle_and_a_cooperating_unit_no_step() -> None:
    assert offered_steps(DEPARTMENT, case(LABOUR, "accepted")) == ["responded", "returned", "assigned"]
    assert offered_steps(DEPARTMENT, case(WANGJING, "accepted", cooperating=[LABOUR])) == []


def test_a_supervisor_is_offered_the_supervisor_steps_but_never_the_routers_link() -> None:
    assert offered_steps(SUPERVISOR, case(XHM, "resolved")) == ["callback", "reopened", "closed"]
    assert offered_steps(SUPERVISOR, case(XHM, "dispatched")) == [
        "accepted",
        "returned",
        "reclassified",
        "dispatched",
        "assigned",
    ]
    assert offered_steps(SUPERVISOR, case(XHM, "linked")) == ["unlinked"]


def test_intakes_answer_narrows_what_the_console_would_offer() -> None:
    local = offered_steps(STREET, case(XHM, "dispatched"))
    assert agreed_steps(local, None) == local
    assert agreed_steps(local, ["returned", "callback"]) == ["returned"]


def test_an_unknown_status_offers_nothing() -> None:
    assert offered_steps(SUPERVISOR, case(XHM, "archived")) == []
