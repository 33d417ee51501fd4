"""Re-dispatch after a return (退单), re-routing, and duplicate links: the router's pure case logic."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.router.agent import route_parsed
from services.router.cases import next_candidate, redispatch_after_return, reroute
from services.router.duplicates import OpenCase, OpenCaseIndex, duplicate_queries, find_duplicate, linked_event
from services.router.routing import candidate_assignments, locate_call
from services.router.urgency import UrgencyScorer, example_rows
from shared.catalogue import load_catalogue
from shared.events import (
    Call,
    CallClassified,
    CaseEventKind,
    Contact,
    UnitKind,
)
from shared.gazetteer import load_gazetteer
from shared.queues import is_urgent
from tests import factories

NOW = datetime(2025, 5, 12, 2, 0, tzinfo=UTC)
CATALOGUE = load_catalogue()
GAZETTEER = load_gazetteer()


def wage_case(**assignment: Any) -> dict[str, Any]:
    return {
        "_id": str(uuid.uuid4()),
        "status": "returned",
        "received_at": NOW - timedelta(hours=3),
        "call": {
            "channel": "phone",
            "subject": "",
            "body": "工地老板拖欠我们三个月工资",
            "location": {"address": "大兴区西红门那边的宏福苑小区"},
        },
        "classification": {"category": "劳动和社会保障", "issue": "wage-arrears", "confidence": 0.9},
        "assignment": {
            "queue_id": "department:市人力资源和社会保障局劳动保障监察总队",
            "rule_id": "wage-arrears",
            "attempt": 1,
            **assignment,
        },
    }


def test_candidates_are_matching_rules_in_order_then_district_then_manual() -> None:
    case = wage_case()
    call = Call.model_validate({**case["call"], "source_system": "t", "external_id": "1", "language": "zh",
                                "received_at": NOW})  # fmt: skip
    classification = factories.classification("劳动和社会保障", issue="wage-arrears", model_version="t")
    queues = [a.queue_id for a in candidate_assignments(call, classification, CATALOGUE, GAZETTEER, NOW)]
    assert queues[0] == "department:市人力资源和社会保障局劳动保障监察总队"
    assert queues[-2:] == ["district:大兴区", "manual:dispatch"]
    assert len(queues) == len(set(queues))


def test_a_returned_case_goes_to_the_next_candidate_after_its_rule() -> None:
    first = redispatch_after_return(wage_case(), CATALOGUE, GAZETTEER, NOW, max_returns=2, note="不归我们管")
    # labour-relations names the same queue as wage-arrears, so the next queue is social security's
    assert (first.queue_id, first.rule_id, first.attempt) == ("department:市人力资源和社会保障局", "social-security", 2)
    assert "不归我们管" in first.reason
    assert first.response_due_at is not None
    second_case = wage_case(queue_id=first.queue_id, rule_id=first.rule_id, attempt=2)
    second = redispatch_after_return(second_case, CATALOGUE, GAZETTEER, NOW, max_returns=2)
    assert (second.queue_id, second.unit_kind, second.attempt) == ("district:大兴区", UnitKind.district, 3)


def test_an_urgent_case_returned_stays_urgent_with_the_next_candidate() -> None:
    urgent = redispatch_after_return(wage_case(priority=1), CATALOGUE, GAZETTEER, NOW, max_returns=2)
    plain = redispatch_after_return(wage_case(priority=3), CATALOGUE, GAZETTEER, NOW, max_returns=2)
    assert urgent.queue_id == plain.queue_id == "department:市人力资源和社会保障局"
    assert (urgent.priority, plain.priority) == (1, 3)


def test_an_urgent_case_returned_gets_the_urgent_deadlines_with_its_next_unit() -> None:
    """Not the next unit's everyday deadlines (social security's days): the half hour and the day of the
    catalogue's life-or-safety rules, counted from the re-dispatch."""
    urgent_rules = [r for r in CATALOGUE.rules if r.is_urgent]
    response = NOW + timedelta(hours=min(r.assign.response_hours for r in urgent_rules))
    resolution = NOW + timedelta(days=min(r.assign.resolution_days for r in urgent_rules))
    urgent = redispatch_after_return(wage_case(priority=1), CATALOGUE, GAZETTEER, NOW, max_returns=2)
    plain = redispatch_after_return(wage_case(priority=3), CATALOGUE, GAZETTEER, NOW, max_returns=2)
    assert (urgent.response_due_at, urgent.resolution_due_at) == (response, resolution)
    assert plain.response_due_at is not None and plain.resolution_due_at is not None
    assert plain.response_due_at > response and plain.resolution_due_at > resolution


def test_an_urgent_case_past_the_return_limit_waits_for_manual_dispatch_at_the_top_of_the_queue() -> None:
    case = wage_case(queue_id="district:大兴区", rule_id="district-sub-centre", attempt=3, priority=1)
    decided = redispatch_after_return(case, CATALOGUE, GAZETTEER, NOW, max_returns=2)
    assert decided.queue_id == "manual:dispatch"
    assert is_urgent(decided.priority)
    assert decided.response_due_at == NOW + timedelta(hours=0.5)
    assert decided.resolution_due_at is None  # an operator dispatches it; the unit it goes to resolves


def test_the_return_after_the_limit_goes_to_manual_dispatch() -> None:
    case = wage_case(queue_id="district:大兴区", rule_id="district-sub-centre", attempt=3)
    decided = redispatch_after_return(case, CATALOGUE, GAZETTEER, NOW, max_returns=2)
    assert decided.queue_id == "manual:dispatch"
    assert decided.attempt == 4
    assert "limit 2" in decided.reason


def test_with_no_candidate_left_a_return_goes_to_manual_dispatch() -> None:
    case = wage_case(queue_id="district:大兴区", rule_id="district-sub-centre", attempt=2)
    decided = redispatch_after_return(case, CATALOGUE, GAZETTEER, NOW, max_returns=5)
    assert decided.queue_id == "manual:dispatch"
    assert decided.attempt == 3


def test_queues_already_tried_are_skipped() -> None:
    candidates = candidate_assignments(
        factories.call("1", source_system="t", body="小区门口垃圾没人清理", address="朝阳区望京西园三区", received_at=NOW),
        factories.classification("城乡建设", model_version="t"),
        CATALOGUE, GAZETTEER, NOW,
    )  # fmt: skip
    assert [c.queue_id for c in candidates] == ["street:朝阳区/望京街道", "district:朝阳区", "manual:dispatch"]
    tried = {"street:朝阳区/望京街道", "district:朝阳区"}
    chosen = next_candidate(candidates, None, tried)
    assert chosen is not None and chosen.queue_id == "manual:dispatch"


def test_a_reclassified_case_is_routed_afresh_by_its_new_category() -> None:
    new = factories.classification("环境保护", subcategory="环境污染", confidence=1.0, model_version="operator:boss")
    case = wage_case()
    case["call"]["body"] = "楼下饭店油烟太大"
    decided = reroute(case, CATALOGUE, GAZETTEER, NOW, classification=new, why="reclassified")
    assert decided.rule_id == "pollution-street"
    assert decided.queue_id == "street:大兴区/西红门镇"
    assert decided.attempt == 1
    assert decided.reason.startswith("reclassified")


def test_a_rerouted_case_asks_the_learned_urgency_scorer_again_as_its_first_routing_did() -> None:
    """A reclassification or an undone link routes the case afresh: without the scorer an urgency it alone gave
    (no life-or-safety rule took the call) would be lost. The scorer here flags any call (threshold ~0)."""
    new = factories.classification("环境保护", subcategory="环境污染", confidence=1.0, model_version="operator:boss")
    case = wage_case()
    case["call"]["body"] = "楼下饭店油烟太大"
    plain = reroute(case, CATALOGUE, GAZETTEER, NOW, classification=new, why="reclassified")
    scorer = UrgencyScorer.train(example_rows(), threshold=1e-9)
    flagged = reroute(case, CATALOGUE, GAZETTEER, NOW, classification=new, why="reclassified", scorer=scorer)
    assert not is_urgent(plain.priority)
    assert is_urgent(flagged.priority) and "learned urgency scorer" in flagged.reason
    assert flagged.queue_id == plain.queue_id == "street:大兴区/西红门镇"


def classified(external_id: str, *, hours_ago: float = 0, contact: str | None = None, address: str = "朝阳区望京西园三区",
               category: str = "城乡建设") -> CallClassified:  # fmt: skip
    return factories.classified(
        factories.call(
            external_id,
            source_system="t",
            body="小区门口路灯坏了",
            address=address,
            contact=Contact(hash=contact, masked="138****0000") if contact else None,
            received_at=NOW - timedelta(hours=hours_ago),
        ),
        factories.classification(category, model_version="t"),
    )


def open_case(call_id: str, *, hours_ago: float, street: str | None = "望京街道", category: str = "城乡建设",
              contact: str | None = None, status: str = "dispatched",
              address: str = "朝阳区望京西园三区") -> OpenCase | None:  # fmt: skip
    return OpenCase.from_document(
        {
            "_id": call_id,
            "status": status,
            "received_at": (NOW - timedelta(hours=hours_ago)).replace(tzinfo=None),  # as MongoDB returns it
            "classification": {"category": category},
            "assignment": {"queue_id": f"street:朝阳区/{street}", "district": "朝阳区", "street": street,
                           "unit_kind": "street", "unit_name": "朝阳区望京街道"},
            "call": {"location": {"address": address}, **({"contact": {"hash": contact}} if contact else {})},
        }
    )  # fmt: skip


def test_same_problem_at_the_same_address_within_the_window_is_a_duplicate() -> None:
    new = classified("new")
    place = locate_call(new.call, GAZETTEER)
    earlier = open_case(str(uuid.uuid4()), hours_ago=10)
    found = find_duplicate(new, place, [earlier], window=timedelta(hours=72))  # type: ignore[list-item]
    assert found is not None and found.of == earlier


def test_no_duplicate_outside_the_window_for_another_category_or_a_closed_case() -> None:
    new = classified("new")
    place = locate_call(new.call, GAZETTEER)
    window = timedelta(hours=72)
    assert find_duplicate(new, place, [open_case("a", hours_ago=80)], window=window) is None  # type: ignore[list-item]
    assert find_duplicate(new, place, [open_case("b", hours_ago=1, category="环境保护")], window=window) is None  # type: ignore[list-item]
    assert open_case("c", hours_ago=1, status="closed") is None
    assert find_duplicate(new, place, [open_case("d", hours_ago=1, street="酒仙桥街道")], window=window) is None  # type: ignore[list-item]


def test_the_same_problem_elsewhere_in_the_same_street_is_not_a_duplicate() -> None:
    new = classified("new")
    place = locate_call(new.call, GAZETTEER)
    neighbour = open_case("n", hours_ago=1, address="朝阳区望京花园东区")  # same 望京街道, another neighbourhood
    assert find_duplicate(new, place, [neighbour], window=timedelta(hours=72)) is None  # type: ignore[list-item]


def test_the_same_citizen_on_the_same_problem_elsewhere_is_a_duplicate() -> None:
    new = classified("new", contact="c1", address="")
    place = locate_call(new.call, GAZETTEER)
    case = open_case("x", hours_ago=5, street="酒仙桥街道", contact="c1")
    found = find_duplicate(new, place, [case], window=timedelta(hours=72))  # type: ignore[list-item]
    assert found is not None and "same citizen" in found.reason


def test_a_call_never_duplicates_itself_or_a_later_call() -> None:
    new = classified("new")
    place = locate_call(new.call, GAZETTEER)
    itself = open_case(str(new.call_id), hours_ago=0)
    later = open_case("later", hours_ago=-1)
    assert find_duplicate(new, place, [itself, later], window=timedelta(hours=72)) is None  # type: ignore[list-item]


def test_the_batch_is_looked_up_by_address_and_by_contact_in_indexed_slices() -> None:
    batch = [classified("a"), classified("b", contact="c9", address="")]
    queries = duplicate_queries([(c, locate_call(c.call, GAZETTEER)) for c in batch], timedelta(hours=72))
    assert [{k: v for k, v in q.items() if k.startswith("call.")} for q in queries] == [
        {"call.location.address": {"$in": ["朝阳区望京西园三区"]}},
        {"call.contact.hash": {"$in": ["c9"]}},
    ]
    for query in queries:
        assert "$or" not in query  # the embedded database scans the whole collection for an $or
        assert query["received_at"]["$gte"] == NOW - timedelta(hours=72)
        assert sorted(query["status"]["$in"]) == ["accepted", "dispatched", "responded", "returned"]


def test_a_large_batch_is_asked_in_slices_of_fifty_values() -> None:
    batch = [classified(f"c{i}", contact=f"h{i}", address=f"朝阳区望京西园{i}号院") for i in range(120)]
    queries = duplicate_queries([(c, locate_call(c.call, GAZETTEER)) for c in batch], timedelta(hours=72))
    sizes = [len(next(v for k, v in q.items() if k.startswith("call."))["$in"]) for q in queries]
    assert sizes == [50, 50, 20, 50, 50, 20]


def test_a_duplicate_in_the_same_batch_is_linked_to_the_first_call_with_its_queue() -> None:
    first, second = classified("first", hours_ago=1), classified("second")
    parsed = [(None, c, locate_call(c.call, GAZETTEER)) for c in (first, second)]
    routed, dead = route_parsed(parsed, CATALOGUE, GAZETTEER, NOW, duplicate_window=timedelta(hours=72))  # type: ignore[arg-type]
    assert not dead
    assert routed[0].assignment.duplicate_of is None
    assert routed[1].assignment.duplicate_of == first.call_id
    assert routed[1].assignment.queue_id == routed[0].assignment.queue_id
    assert routed[1].assignment.resolution_due_at is None
    link = linked_event(routed[1])
    assert link is not None and link.kind is CaseEventKind.linked and link.linked_to == first.call_id
    assert linked_event(routed[0]) is None
    assert link.event_id == linked_event(routed[1]).event_id  # type: ignore[union-attr]


def test_without_a_window_nothing_is_linked() -> None:
    parsed = [(None, c, locate_call(c.call, GAZETTEER)) for c in (classified("a", hours_ago=1), classified("b"))]
    routed, _ = route_parsed(parsed, CATALOGUE, GAZETTEER, NOW)  # type: ignore[arg-type]
    assert all(r.assignment.duplicate_of is None for r in routed)


def test_the_open_cases_looked_at_by_address_and_caller_give_every_duplicate_a_scan_of_all_would() -> None:
    # Calls and open cases drawn from few addresses, callers, streets, categories and hours, so that every branch of
    # find_duplicate is taken: the index's candidates must decide exactly as all the open cases do.
    rng = random.Random(7)
    addresses = ["朝阳区望京西园三区", "朝阳区望京花园东区", "", "海淀区中关村南大街"]
    contacts = [None, "c1", "c2"]
    cases = [
        open_case(
            f"o{i}",
            hours_ago=rng.uniform(-2, 80),
            street=rng.choice(["望京街道", "酒仙桥街道", None]),
            category=rng.choice(["城乡建设", "环境保护"]),
            contact=rng.choice(contacts),
            address=rng.choice(addresses),
        )
        for i in range(60)
    ]
    open_cases = [case for case in cases if case is not None]
    index = OpenCaseIndex(open_cases)
    window = timedelta(hours=72)
    found = 0
    for i in range(80):
        new = classified(f"n{i}", hours_ago=rng.uniform(0, 10), contact=rng.choice(contacts),
                         address=rng.choice(addresses), category=rng.choice(["城乡建设", "环境保护"]))  # fmt: skip
        place = locate_call(new.call, GAZETTEER)
        expected = find_duplicate(new, place, open_cases, window=window)
        assert find_duplicate(new, place, index.candidates(new), window=window) == expected
        found += expected is not None
    assert 10 < found < 80  # both outcomes occur
