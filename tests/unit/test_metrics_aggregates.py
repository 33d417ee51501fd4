"""Aggregation of routed calls into case documents and counter increments (pure, no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.metrics.aggregates import (
    case_document,
    counter_increments,
    local_month_and_day,
    monthly_counter_id,
    unique_by_call,
)
from shared.events import (
    Assignment,
    Call,
    CallRouted,
    Channel,
    Classification,
    Contact,
    Location,
    UnitKind,
    call_id_for,
)

TZ = "Asia/Shanghai"


def routed_event(
    external_id: str,
    *,
    received_at: datetime = datetime(2026, 4, 10, 2, 0, tzinfo=UTC),
    category: str = "劳动和社会保障",
    issue: str | None = None,
    queue_id: str = "street:大兴区/西红门镇",
    unit_kind: UnitKind = UnitKind.street,
    unit_name: str = "西红门镇",
    district: str | None = "大兴区",
    source_system: str = "test-metrics",
) -> CallRouted:
    """A routed call as the router would publish it (test factory, shared by the metrics tests)."""
    return CallRouted(
        call_id=call_id_for(source_system, external_id),
        call=Call(
            channel=Channel.phone,
            source_system=source_system,
            external_id=external_id,
            subject="工资拖欠",
            body="公司拖欠三个月工资",
            language="zh",
            location=Location(district=district, street=unit_name if unit_kind == UnitKind.street else None),
            contact=Contact(hash="a" * 64, masked="138****5678"),
            received_at=received_at,
        ),
        classification=Classification(
            category=category, subcategory="劳动保障", item="拖欠工资", issue=issue, confidence=0.9, model_version="t1"
        ),
        assignment=Assignment(
            queue_id=queue_id,
            unit_kind=unit_kind,
            unit_name=unit_name,
            district=district,
            street=unit_name if unit_kind == UnitKind.street else None,
            cooperating_units=["department:市人力资源社会保障局"],
            rule_id="R-001",
            catalogue_version="2026.1",
            reason="wage arrears go to the street",
            response_due_at=received_at + timedelta(hours=2),
            resolution_due_at=received_at + timedelta(days=7),
        ),
    )


def test_a_call_received_late_on_31_march_utc_counts_in_april_in_beijing() -> None:
    event = routed_event("late-march", received_at=datetime(2026, 3, 31, 17, 30, tzinfo=UTC))

    case = case_document(event, TZ)

    assert (case["month"], case["day"]) == ("2026-04", "2026-04-01")
    assert case["received_at"] == datetime(2026, 3, 31, 17, 30, tzinfo=UTC)
    increments = counter_increments([case])
    assert monthly_counter_id("2026-04", "category", "劳动和社会保障") in increments.monthly
    assert not any(key.startswith("2026-03|") for key in increments.monthly)


def test_a_call_just_before_beijing_midnight_stays_in_march() -> None:
    assert local_month_and_day(datetime(2026, 3, 31, 15, 59, tzinfo=UTC), TZ) == ("2026-03", "2026-03-31")
    assert local_month_and_day(datetime(2026, 3, 31, 16, 0, tzinfo=UTC), TZ) == ("2026-04", "2026-04-01")


def test_naive_datetimes_from_the_database_are_read_as_utc() -> None:
    assert local_month_and_day(datetime(2026, 3, 31, 17, 30), TZ) == ("2026-04", "2026-04-01")


def test_the_case_document_is_dispatched_and_carries_call_classification_and_assignment() -> None:
    event = routed_event("doc", issue="wage-arrears")

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
    case = case_document(routed_event("contact"), TZ)

    assert case["call"]["contact"] == {"hash": "a" * 64, "masked": "138****5678"}


def test_a_call_repeated_in_one_batch_is_kept_once() -> None:
    first = routed_event("dup")
    again = first.model_copy(update={"event_id": uuid.uuid4()})
    other = routed_event("other")

    unique = unique_by_call([first, again, other])

    assert [e.call_id for e in unique] == [first.call_id, other.call_id]
    assert unique[0].event_id == first.event_id


def test_duplicates_in_one_batch_are_counted_once() -> None:
    first = routed_event("dup-count", issue="wage-arrears")
    cases = [case_document(e, TZ) for e in unique_by_call([first, first, first])]

    increments = counter_increments(cases)

    assert increments.monthly[monthly_counter_id("2026-04", "category", "劳动和社会保障")] == 1
    assert increments.monthly[monthly_counter_id("2026-04", "issue", "wage-arrears")] == 1
    assert increments.queues["street:大兴区/西红门镇"].opened == 1


def test_counters_are_derived_only_from_the_cases_given_as_new() -> None:
    batch = [routed_event(f"n{i}") for i in range(5)]
    cases = [case_document(e, TZ) for e in batch]
    already_stored = {cases[0]["_id"], cases[1]["_id"]}

    increments = counter_increments([c for c in cases if c["_id"] not in already_stored])

    assert increments.monthly[monthly_counter_id("2026-04", "category", "劳动和社会保障")] == 3
    assert increments.queues["street:大兴区/西红门镇"].opened == 3


def test_counters_are_kept_per_category_issue_unit_and_district() -> None:
    cases = [
        case_document(routed_event("a", issue="wage-arrears"), TZ),
        case_document(
            routed_event(
                "b",
                category="城乡建设",
                queue_id="department:市住房城乡建设委",
                unit_kind=UnitKind.department,
                unit_name="市住房城乡建设委",
                district="朝阳区",
            ),
            TZ,
        ),
        case_document(routed_event("c", district=None, queue_id="manual:sorting", unit_kind=UnitKind.manual), TZ),
    ]

    increments = counter_increments(cases)

    assert increments.monthly == {
        "2026-04|category|劳动和社会保障": 2,
        "2026-04|category|城乡建设": 1,
        "2026-04|issue|wage-arrears": 1,
        "2026-04|unit|street:大兴区/西红门镇": 1,
        "2026-04|unit|department:市住房城乡建设委": 1,
        "2026-04|unit|manual:sorting": 1,
        "2026-04|district|大兴区": 1,
        "2026-04|district|朝阳区": 1,
    }
    assert increments.labels["2026-04|unit|department:市住房城乡建设委"] == "市住房城乡建设委"
    assert {q: inc.opened for q, inc in increments.queues.items()} == {
        "street:大兴区/西红门镇": 1,
        "department:市住房城乡建设委": 1,
        "manual:sorting": 1,
    }
    assert increments.queues["department:市住房城乡建设委"].unit_kind == "department"


def test_an_empty_batch_changes_no_counter() -> None:
    assert len(counter_increments([])) == 0


def test_a_queue_increment_carries_its_oldest_new_case() -> None:
    times = [datetime(2026, 4, 10, h, tzinfo=UTC) for h in (5, 2, 7)]
    cases = [case_document(routed_event(f"old-{h}", received_at=t), TZ) for h, t in zip((5, 2, 7), times, strict=True)]

    queue = counter_increments(cases).queues["street:大兴区/西红门镇"]

    assert queue.opened == 3
    assert queue.oldest_received_at == times[1]
    assert queue.oldest_call_id == cases[1]["_id"]
