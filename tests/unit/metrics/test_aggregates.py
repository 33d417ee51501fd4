"""Case documents, lifecycle steps and the counters they contribute to (pure, no database)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from services.metrics.aggregates import (
    CounterChanges,
    case_contributions,
    counter_meta,
    id_meta,
    monthly_counter_id,
    sum_contributions,
)
from services.metrics.case_facts import (
    apply_case_event,
    case_document,
    flag_overdue,
    next_due_at,
    overdue_deadlines,
    overdue_event_id,
    unique_by_call,
)
from services.metrics.case_search import search_entry
from shared.clock import local_month_and_day
from shared.events import (
    CaseEvent,
    DeadlineKind,
    UnitKind,
)
from tests import factories

TZ = "Asia/Shanghai"


def test_a_call_received_late_on_31_march_utc_counts_in_april_in_beijing() -> None:
    event = factories.routed("late-march", received_at=datetime(2026, 3, 31, 17, 30, tzinfo=UTC))

    case = case_document(event, TZ)

    assert (case["month"], case["day"]) == ("2026-04", "2026-04-01")
    assert case["received_at"] == datetime(2026, 3, 31, 17, 30, tzinfo=UTC)
    contributions = case_contributions(case)
    assert monthly_counter_id("2026-04", "category", "劳动和社会保障") in contributions
    assert not any(key.startswith("2026-03") for key in contributions)


def test_a_call_just_before_beijing_midnight_stays_in_march() -> None:
    assert local_month_and_day(datetime(2026, 3, 31, 15, 59, tzinfo=UTC), TZ) == ("2026-03", "2026-03-31")
    assert local_month_and_day(datetime(2026, 3, 31, 16, 0, tzinfo=UTC), TZ) == ("2026-04", "2026-04-01")


def test_naive_datetimes_from_the_database_are_read_as_utc() -> None:
    assert local_month_and_day(datetime(2026, 3, 31, 17, 30), TZ) == ("2026-04", "2026-04-01")


def test_the_case_document_is_dispatched_and_carries_call_classification_and_assignment() -> None:
    event = factories.routed("doc", issue="wage-arrears")

    case = case_document(event, TZ)

    assert case["_id"] == str(event.call_id)
    assert case["status"] == "dispatched"
    assert case["queue_id"] == "street:大兴区/西红门镇"
    assert case["district"] == "大兴区"
    assert case["classification"]["category"] == "劳动和社会保障"
    assert case["classification"]["issue"] == "wage-arrears"
    assert case["assignment"]["unit_kind"] == "street"
    assert case["assignment"]["cooperating_units"] == ["department:市人力资源社会保障局"]
    assert case["assignment"]["rule_id"] == "R-001"
    assert case["assignment"]["resolution_due_at"] == event.assignment.resolution_due_at
    assert case["routed_at"] == event.occurred_at


def test_the_case_keeps_only_the_hashed_and_masked_contact() -> None:
    case = case_document(factories.routed("contact"), TZ)

    assert case["call"]["contact"] == {"hash": "a" * 64, "masked": "138****5678"}


def test_a_call_repeated_in_one_batch_is_kept_once() -> None:
    first = factories.routed("dup")
    again = first.model_copy(update={"event_id": uuid.uuid4()})
    other = factories.routed("other")

    unique = unique_by_call([first, again, other])

    assert [e.call_id for e in unique] == [first.call_id, other.call_id]
    assert unique[0].event_id == first.event_id


def walk(case: dict, *events: CaseEvent) -> dict:
    for event in events:
        case = apply_case_event(case, event).case
    return case


def test_duplicates_in_one_batch_are_counted_once() -> None:
    first = factories.routed("dup-count", issue="wage-arrears")
    totals = sum_contributions(case_document(e, TZ) for e in unique_by_call([first, first, first]))

    assert totals[monthly_counter_id("2026-04", "category", "劳动和社会保障")] == {"count": 1}
    assert totals[monthly_counter_id("2026-04", "issue", "wage-arrears")] == {"count": 1}
    assert totals["queue|street:大兴区/西红门镇"] == {"open": 1, "dispatched": 1, "unassigned": 1}


def test_counters_are_kept_per_category_issue_unit_district_and_area_day() -> None:
    cases = [
        case_document(factories.routed("a", issue="wage-arrears"), TZ),
        case_document(
            factories.routed(
                "b",
                category="城乡建设",
                queue_id="department:市住房城乡建设委",
                unit_kind=UnitKind.department,
                unit_name="市住房城乡建设委",
                district="朝阳区",
            ),
            TZ,
        ),
    ]

    totals = sum_contributions(cases)

    assert totals["2026-04|category|劳动和社会保障"] == {"count": 1}
    assert totals["2026-04|category|城乡建设"] == {"count": 1}
    assert totals["2026-04|issue|wage-arrears"] == {"count": 1}
    assert totals["2026-04|unit|street:大兴区/西红门镇"] == {"count": 1, "dispatched": 1}
    assert totals["2026-04|district|朝阳区"] == {"count": 1, "dispatched": 1}
    assert totals["2026-04-10|area|大兴区/西红门镇"] == {"problems.wage-arrears": 1}


def test_a_counter_is_described_alike_whether_a_case_or_only_its_id_describes_it() -> None:
    # A counter no case of the batch described (a rebuild, a take-away) gets its fields from its id: the same
    # fields a case gives it, so the area counter keeps its day and area whichever path wrote it last.
    case = case_document(factories.routed("meta", issue="wage-arrears"), TZ)

    described = counter_meta(case)

    assert set(described) == set(case_contributions(case))
    for counter_id, fields in described.items():
        assert id_meta(counter_id).items() <= fields.items(), counter_id
    area_id = next(counter_id for counter_id, fields in described.items() if fields["dimension"] == "area")
    area = area_id.split("|", 2)[2]
    assert id_meta(area_id) == {"day": case["day"], "month": case["month"], "dimension": "area", "area": area}


def test_a_step_is_applied_once_when_the_event_is_delivered_twice() -> None:
    event = factories.routed("twice")
    accepted = factories.case_step(event, "accepted")
    case = apply_case_event(case_document(event, TZ), accepted).case

    again = apply_case_event(case, accepted)

    assert again.outcome == "duplicate"
    assert again.case["history"] == case["history"]
    assert case["status"] == "accepted"


def test_an_illegal_step_is_recorded_as_rejected_and_changes_nothing_else() -> None:
    event = factories.routed("illegal")
    case = case_document(event, TZ)

    outcome = apply_case_event(case, factories.case_step(event, "resolved"))

    assert outcome.outcome == "rejected"
    assert "not allowed" in (outcome.reason or "")
    assert outcome.case["status"] == "dispatched"
    assert outcome.case["history"][-1]["outcome"] == "rejected"
    assert case_contributions(outcome.case) == case_contributions(case)


def test_responding_before_the_deadline_counts_as_responded_on_time() -> None:
    event = factories.routed("on-time")
    at = event.call.received_at + timedelta(hours=1)
    case = walk(
        case_document(event, TZ),
        factories.case_step(event, "accepted"),
        factories.case_step(event, "responded", occurred_at=at),
    )

    unit = case_contributions(case)["2026-04|unit|street:大兴区/西红门镇"]

    assert unit["responded"] == 1 and unit["responded_on_time"] == 1


def test_responding_after_the_deadline_is_not_on_time() -> None:
    event = factories.routed("late")
    at = event.call.received_at + timedelta(hours=3)
    case = walk(
        case_document(event, TZ),
        factories.case_step(event, "accepted"),
        factories.case_step(event, "responded", occurred_at=at),
    )

    unit = case_contributions(case)["2026-04|unit|street:大兴区/西红门镇"]

    assert unit["responded"] == 1 and "responded_on_time" not in unit


def test_a_case_counts_in_a_rate_only_once_its_deadline_passed_or_it_was_answered() -> None:
    """Issue 14: rates were over every dispatched case, so cases minutes old read 0.0%."""
    event = factories.routed("judged")
    unit_id = "2026-04|unit|street:大兴区/西红门镇"
    fresh = case_document(event, TZ)
    assert {"response_due", "resolution_due"}.isdisjoint(case_contributions(fresh)[unit_id])

    late, _ = flag_overdue(fresh, DeadlineKind.response, event.call.received_at + timedelta(hours=3))
    assert (
        case_contributions(late)[unit_id]["response_due"] == 1
        and "responded_on_time" not in case_contributions(late)[unit_id]
    )

    answered = walk(
        fresh,
        factories.case_step(event, "accepted"),
        factories.case_step(event, "responded", occurred_at=event.call.received_at + timedelta(hours=1)),
        factories.case_step(event, "resolved"),
    )
    unit = case_contributions(answered)[unit_id]
    assert (unit["response_due"], unit["responded_on_time"], unit["resolution_due"], unit["resolved"]) == (1, 1, 1, 1)


def test_a_resolved_and_called_back_case_leaves_the_queue_and_counts_its_answer() -> None:
    event = factories.routed("done")
    case = walk(
        case_document(event, TZ),
        factories.case_step(event, "accepted"),
        factories.case_step(event, "responded"),
        factories.case_step(event, "resolved"),
        factories.case_step(event, "callback", callback_result="basically_satisfied"),
    )

    contributions = case_contributions(case)

    assert case["status"] == "called_back"
    assert contributions["queue|street:大兴区/西红门镇"] == {"dispatched": 1}
    unit = contributions["2026-04|unit|street:大兴区/西红门镇"]
    assert unit["resolved"] == 1 and unit["basically_satisfied"] == 1


def test_a_reopened_case_no_longer_counts_as_resolved_nor_keeps_its_callback() -> None:
    event = factories.routed("reopen")
    case = walk(
        case_document(event, TZ),
        factories.case_step(event, "accepted"),
        factories.case_step(event, "responded"),
        factories.case_step(event, "resolved"),
        factories.case_step(event, "callback", callback_result="dissatisfied"),
        factories.case_step(event, "reopened"),
    )

    unit = case_contributions(case)["2026-04|unit|street:大兴区/西红门镇"]

    assert case["status"] == "accepted"
    assert "resolved" not in unit and "dissatisfied" not in unit
    assert case_contributions(case)["queue|street:大兴区/西红门镇"]["open"] == 1


def test_a_redispatch_moves_the_case_and_its_queue_depth_to_the_new_unit() -> None:
    event = factories.routed("moved")
    new = event.assignment.model_copy(
        update={
            "queue_id": "department:市住房城乡建设委",
            "unit_kind": UnitKind.department,
            "unit_name": "住建委",
            "attempt": 2,
        }
    )
    before = walk(case_document(event, TZ), factories.case_step(event, "returned"))
    after = walk(before, factories.case_step(event, "dispatched", assignment=new))

    changes = CounterChanges()
    changes.add_case(before, after)

    amounts = changes.nonzero()
    assert amounts["queue|street:大兴区/西红门镇"] == {"open": -1, "dispatched": -1, "unassigned": -1}
    assert amounts["queue|department:市住房城乡建设委"] == {"open": 1, "dispatched": 1, "unassigned": 1}
    assert changes.queues_left == {"street:大兴区/西红门镇": {str(event.call_id)}}
    assert after["queue_ids"][0] == "department:市住房城乡建设委"
    assert after["assignment"]["attempt"] == 2


def test_a_whistle_adds_the_summoned_departments_to_the_case_queues() -> None:
    event = factories.routed("whistle")
    case = walk(
        case_document(event, TZ),
        factories.case_step(event, "accepted"),
        factories.case_step(event, "whistle", departments=["department:市城市管理委员会"]),
    )

    assert "department:市城市管理委员会" in case["queue_ids"]
    assert case["queue_ids"][0] == case["queue_id"]
    assert case_contributions(case)["2026-04|unit|department:市城市管理委员会"] == {"cooperated": 1}


def test_a_duplicate_call_is_linked_counts_in_volume_but_not_as_a_second_dispatch() -> None:
    original = factories.routed("original")
    duplicate = factories.routed("duplicate", issue="wage-arrears")
    duplicate = duplicate.model_copy(
        update={"assignment": duplicate.assignment.model_copy(update={"duplicate_of": original.call_id})}
    )
    case = case_document(duplicate, TZ)
    linked = apply_case_event(case, factories.case_step(duplicate, "linked", linked_to=original.call_id))

    contributions = case_contributions(linked.case)

    assert case["status"] == "linked" and linked.outcome == "applied"
    assert contributions["2026-04|issue|wage-arrears"] == {"count": 1}
    assert contributions["2026-04|unit|street:大兴区/西红门镇"] == {"linked": 1}
    assert (
        "open" not in contributions["queue|street:大兴区/西红门镇"]
        if "queue|street:大兴区/西红门镇" in contributions
        else True
    )


def test_a_deadline_is_flagged_once_with_a_deterministic_event_id() -> None:
    event = factories.routed("overdue")
    case = case_document(event, TZ)
    later = event.call.received_at + timedelta(hours=3)

    assert overdue_deadlines(case, later) == [DeadlineKind.response]
    flagged, overdue = flag_overdue(case, DeadlineKind.response, later)

    assert overdue_deadlines(flagged, later) == []
    assert overdue.event_id == overdue_event_id(str(event.call_id), "response")
    assert next_due_at(flagged) == event.assignment.resolution_due_at
    contributions = case_contributions(flagged)
    assert contributions["2026-04|unit|street:大兴区/西红门镇"]["overdue_response"] == 1
    assert contributions["queue|street:大兴区/西红门镇"]["overdue"] == 1


def test_a_responded_case_has_no_response_deadline_left() -> None:
    event = factories.routed("met")
    case = walk(
        case_document(event, TZ), factories.case_step(event, "accepted"), factories.case_step(event, "responded")
    )

    assert overdue_deadlines(case, event.call.received_at + timedelta(hours=3)) == []
    assert next_due_at(case) == event.assignment.resolution_due_at


def test_streaming_changes_sum_to_the_rebuilt_counters() -> None:
    event = factories.routed("sum")
    states = [case_document(event, TZ)]
    for kind in ("accepted", "responded", "resolved"):
        states.append(apply_case_event(states[-1], factories.case_step(event, kind)).case)
    changes = CounterChanges()
    changes.add_case(None, states[0])
    for before, after in itertools.pairwise(states):
        changes.add_case(before, after)

    assert changes.nonzero() == sum_contributions([states[-1]])


def test_counter_changes_carry_the_queue_digest_entries_that_changed() -> None:
    opened = case_document(factories.routed("digest"), TZ)
    hour = opened["received_at"].strftime("%Y-%m-%dT%H")
    keys = {(queue_id, hour) for queue_id in opened["queue_ids"]}  # led and cooperating
    changes = CounterChanges()
    changes.add_case(None, opened)
    accepted = opened | {"status": "accepted"}
    changes.add_case(opened, accepted)
    assert changes.open_cases == {key: {opened["_id"]: search_entry(accepted)} for key in keys}, (
        "the batch's last state"
    )
    moved = accepted | {"queue_id": "street:大兴区/旧宫镇", "queue_ids": ["street:大兴区/旧宫镇"]}
    later = CounterChanges()
    later.add_case(accepted, moved)
    later.add_case(moved, moved | {"status": "closed"})
    left = keys | {("street:大兴区/旧宫镇", hour)}
    assert later.open_cases == {key: {opened["_id"]: None} for key in left}, "moved, then closed: gone everywhere"
    unchanged = CounterChanges()
    unchanged.add_case(accepted, accepted | {"history": [*accepted["history"], {"kind": "note"}]})
    assert unchanged.open_cases == {}, "a step that changes nothing a search reads leaves the digests alone"
