"""The search's pure parts: what the database is asked, what is checked after, the orders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.metrics.case_search import CaseFilter, entry_of, entry_text, open_entries, ordered, search_entry

NOW = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)


def case(call_id: str, minutes: int, priority: int = 3, due_days: float | None = 1, **extra: object) -> dict:
    due = NOW + timedelta(days=due_days) if due_days is not None else None
    return {
        "_id": call_id,
        "status": "dispatched",
        "received_at": NOW - timedelta(minutes=minutes),
        "assignment": {"priority": priority, "resolution_due_at": due},
        "call": {"subject": "Broken streetlight", "body": "东门外的路灯坏了", "location": {"address": "宏福苑"}},
        "classification": {"category": "城乡建设"},
        **extra,
    }


def test_a_call_id_in_the_search_box_is_an_id_and_anything_else_is_words() -> None:
    call_id = str(uuid.uuid4())
    assert CaseFilter.of(q=f" {call_id} ").query() == {"_id": call_id}
    assert CaseFilter.of(q="路灯  宏福苑").words == ("路灯", "宏福苑")


def test_the_database_gets_the_indexed_and_plain_conditions_and_words_are_checked_after() -> None:
    found = CaseFilter.of(
        q="路灯", queue_id="street:大兴区/西红门镇", priorities=(1,), categories=("城乡建设/市政设施",)
    )
    query = found.query()
    assert query["queue_ids"] == "street:大兴区/西红门镇" and query["assignment.priority"] == {"$in": [1]}
    assert query["$or"] == [{"classification.category": "城乡建设", "classification.subcategory": "市政设施"}]
    assert found.matches(case("a", 5), NOW)
    assert found.matches(case("a", 5) | {"call": {"subject": "STREETLIGHT out"}}, NOW) is False
    assert CaseFilter.of(q="streetlight").matches(case("a", 5), NOW), "words match whatever their case"


def test_overdue_filters_both_ways() -> None:
    late, on_time = case("late", 5, due_days=-1), case("ok", 5)
    assert CaseFilter(overdue=True).matches(late, NOW) and not CaseFilter(overdue=True).matches(on_time, NOW)
    assert CaseFilter(overdue=False).matches(on_time, NOW)


def test_orders_urgent_first_then_oldest_and_by_deadline_with_none_last() -> None:
    cases = [case("new", 1), case("old", 50), case("urgent", 2, priority=1), case("no-due", 60, due_days=None)]
    assert [c["_id"] for c in ordered(cases, "urgent", 10)] == ["urgent", "no-due", "old", "new"]
    assert [c["_id"] for c in ordered(cases, "newest", 2)] == ["new", "urgent"]
    soonest = [case("later", 1, due_days=3), case("sooner", 1, due_days=0.5), case("none", 1, due_days=None)]
    assert [c["_id"] for c in ordered(soonest, "deadline", 10)] == ["sooner", "later", "none"]


def test_the_plain_conditions_checked_in_python_agree_with_the_query() -> None:
    entry = case("a", 5, priority=1, district="大兴区") | {
        "classification": {"category": "城乡建设", "subcategory": "市政设施", "item": "路灯"}
    }
    assert CaseFilter(statuses=("dispatched",), priorities=(1,), districts=("大兴区",)).matches_fields(entry)
    assert CaseFilter(categories=("城乡建设/市政设施/路灯", "劳动保障")).matches_fields(entry)
    assert not CaseFilter(categories=("城乡建设/供暖",)).matches_fields(entry)
    assert not CaseFilter(statuses=("accepted",)).matches_fields(entry)
    assert not CaseFilter(priorities=(2, 3)).matches_fields(entry)
    assert not CaseFilter(districts=("朝阳区",)).matches_fields(entry)


def test_an_open_case_is_in_the_digest_of_every_queue_it_waits_in_with_what_a_search_reads() -> None:
    stored = case("a", 5) | {
        "queue_id": "street:大兴区/西红门镇",
        "queue_ids": ["street:大兴区/西红门镇", "department:市水务局"],
        "day": "2026-05-06",
        "history": [{"kind": "dispatched"}],
        "call": {"subject": "s", "body": "b", "location": {"address": "宏福苑", "street": "西红门镇"}},
    }
    entries = open_entries(stored)
    assert set(entries) == {("street:大兴区/西红门镇", "2026-05-06T01"), ("department:市水务局", "2026-05-06T01")}
    entry = entries[("department:市水务局", "2026-05-06T01")]
    assert entry == search_entry(stored)
    assert "history" not in entry and entry["call"] == {"subject": "s", "body": "b", "location": {"address": "宏福苑"}}
    assert open_entries(stored | {"status": "closed"}) == {}
    assert entry_of(entry_text(entry), "a") == entry | {"_id": "a"}, "stored as one JSON string, read back alike"


def test_the_stored_entry_text_lets_through_every_entry_whose_words_match() -> None:
    entry = case("a", 5) | {"call": {"subject": 'Say "HI"\\now', "body": "东门外的路灯坏了", "location": {}}}
    text = entry_text(search_entry(entry))
    for words in (("路灯",), ('"hi"\\now',), ("say", "坏了"), ("城乡",)):
        found = CaseFilter(words=words)
        assert found.matches(entry, NOW) and found.may_match_entry(text), words
    assert not CaseFilter(words=("路灯", "供暖")).may_match_entry(text)
