"""What returned and hand-dispatched cases teach the catalogue (pure: case documents in, proposals out)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.router.suggest import lead_of, lesson_of, proposed_rule, report, suggest
from shared.catalogue import Rule, load_catalogue
from shared.gazetteer import load_gazetteer

NOW = datetime(2025, 5, 12, 2, 0, tzinfo=UTC)
CATALOGUE = load_catalogue()
GAZETTEER = load_gazetteer()


def step(kind: str, actor: str, queue: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "kind": kind, "actor": actor, "queue_id": queue, "outcome": "applied",
            **fields}  # fmt: skip


def guardrail_case(status: str = "accepted", note: str = "这是交通委的事") -> dict[str, Any]:
    return {
        "_id": str(uuid.uuid4()),
        "status": status,
        "received_at": NOW - timedelta(days=1),
        "call": {"channel": "phone", "body": "路边的护栏被撞歪了", "location": {"address": "朝阳区望京西园三区"}},
        "classification": {"category": "城乡建设", "subcategory": "城市建设和市政管理", "confidence": 0.9},
        "assignment": {"queue_id": "department:市交通委员会", "attempt": 2},
        "queue_id": "department:市交通委员会",
        "returned_count": 1,
        "history": [
            step("returned", "wangjing", "street:朝阳区/望京街道", note=note),
            step("dispatched", "router", "street:朝阳区/望京街道",
                 assignment={"queue_id": "department:市交通委员会", "attempt": 2}),
            step("accepted", "jiaotongwei", "department:市交通委员会"),
        ],
    }  # fmt: skip


def test_leads_of_queues() -> None:
    assert lead_of("street:朝阳区/望京街道") == "street"
    assert lead_of("district:朝阳区") == "district"
    assert lead_of("department:市交通委员会") == "department:市交通委员会"
    assert lead_of("manual:dispatch") is None


def test_a_returned_case_accepted_elsewhere_teaches_where_it_belongs() -> None:
    lesson = lesson_of(guardrail_case(), CATALOGUE, GAZETTEER, NOW)
    assert lesson is not None
    assert (lesson.rule_today, lesson.lead_today) == ("urban-construction-street", "street")
    assert (lesson.settled_lead, lesson.manual) == ("department:市交通委员会", False)
    assert lesson.named == ("department:市交通委员会",)


def test_cases_that_teach_nothing() -> None:
    assert lesson_of(guardrail_case(status="dispatched"), CATALOGUE, GAZETTEER, NOW) is None  # not settled yet
    quiet = guardrail_case()
    quiet["history"] = [step("accepted", "x", "street:朝阳区/望京街道")]
    assert lesson_of(quiet, CATALOGUE, GAZETTEER, NOW) is None  # routed right the first time


def test_a_hand_dispatch_not_yet_accepted_teaches_the_operators_choice() -> None:
    case = guardrail_case(status="dispatched")
    case["history"].append(
        step("dispatched", "duty-supervisor", "department:市交通委员会",
             assignment={"queue_id": "department:市公安局公安交通管理局", "attempt": 3})
    )  # fmt: skip
    lesson = lesson_of(case, CATALOGUE, GAZETTEER, NOW)
    assert lesson is not None and lesson.manual
    assert lesson.settled_queue == "department:市公安局公安交通管理局"


def test_proposals_need_enough_cases_and_are_valid_rules() -> None:
    lessons = [lesson_of(guardrail_case(), CATALOGUE, GAZETTEER, NOW) for _ in range(3)]
    assert suggest([lesson for lesson in lessons if lesson], CATALOGUE, min_cases=4) == []
    [proposal] = suggest([lesson for lesson in lessons if lesson], CATALOGUE, min_cases=3)
    Rule.model_validate(proposal.rule)
    assert proposal.before == "urban-construction-street"
    assert proposal.rule["assign"]["lead"] == "department:市交通委员会"
    assert proposal.evidence["cases"] == 3 and proposal.evidence["returned_by"] == {"street:朝阳区/望京街道": 3}
    text = report([proposal], cases_read=3, lessons=3, catalogue=CATALOGUE)
    assert "3 cases of 城乡建设/城市建设和市政管理 settled at department:市交通委员会" in text
    assert "reason: 这是交通委的事" in text


def test_cases_the_catalogue_already_sends_where_they_settled_propose_nothing() -> None:
    case = guardrail_case()
    case["classification"] = {"category": "交通运输", "confidence": 0.9}  # the transport rule leads there today
    lesson = lesson_of(case, CATALOGUE, GAZETTEER, NOW)
    assert lesson is not None and lesson.lead_today == lesson.settled_lead
    assert suggest([lesson] * 5, CATALOGUE, min_cases=1) == []


def test_a_proposed_rule_names_the_unit_that_leads_in_its_description() -> None:
    lesson = lesson_of(guardrail_case(), CATALOGUE, GAZETTEER, NOW)
    assert lesson is not None
    leads = {
        "department:市交通委员会": "由市交通委员会牵头",
        "street": "由属地街乡镇牵头",
        "district": "由区级分中心牵头",
    }
    for lead, says in leads.items():
        rule = proposed_rule(dataclasses.replace(lesson, settled_lead=lead), CATALOGUE, "learned-1", 3)
        assert says in rule["description"]["zh"]
