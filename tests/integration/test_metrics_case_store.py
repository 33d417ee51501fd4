"""The case store on the real embedded database: lifecycle steps, exactly-once counters, deadlines, rebuild (hot spots:
test_metrics_hotspots.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.metrics.case_search import CaseFilter
from services.metrics.repository import MetricsRepository
from shared.events import CaseEvent, UnitKind
from tests import factories
from tests.helpers import present

pytestmark = pytest.mark.integration

STREET = "street:大兴区/西红门镇"
UNIT = f"2026-04|unit|{STREET}"


async def stored_digests(mongo_db) -> dict[str, dict[str, Any]]:
    """The queues' open-case digests that hold a case (an emptied one is deleted in the transaction that empties it)."""
    return {d["_id"]: d["cases"] async for d in mongo_db.open_cases.find({"queue_id": {"$exists": True}}) if d["cases"]}


async def ready(mongo_db) -> MetricsRepository:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    return repository


async def test_steps_change_status_and_rates_once_however_often_they_are_delivered(mongo_db) -> None:
    repository = await ready(mongo_db)
    calls = [factories.routed(f"life-{i}") for i in range(3)]
    await repository.apply_routed(calls)
    at = calls[0].call.received_at + timedelta(hours=1)
    steps = [
        factories.case_step(calls[0], "accepted"),
        factories.case_step(calls[0], "responded", occurred_at=at),
        factories.case_step(calls[0], "resolved"),
        factories.case_step(calls[0], "callback", callback_result="satisfied"),
    ]

    first = await repository.apply_case_events(steps)
    replay = await repository.apply_case_events(steps + steps[:2])

    assert (first.applied, replay.applied, replay.duplicates) == (4, 0, 6)
    case = await repository.get_case(str(calls[0].call_id))
    assert case is not None and case["status"] == "called_back"
    assert [h["kind"] for h in case["history"]] == ["dispatched", "accepted", "responded", "resolved", "callback"]
    assert case["history"][0]["actor"] == "router" and case["history"][0]["queue_id"] == STREET
    unit = await mongo_db.counters.find_one({"_id": UNIT})
    assert (unit["dispatched"], unit["responded_on_time"], unit["resolved"], unit["satisfied"]) == (3, 1, 1, 1)
    queue = await mongo_db.counters.find_one({"_id": f"queue|{STREET}"})
    assert queue["open"] == 2


async def test_an_illegal_step_is_recorded_rejected_and_reported(mongo_db) -> None:
    repository = await ready(mongo_db)
    call = factories.routed("illegal")
    await repository.apply_routed([call])

    illegal = factories.case_step(call, "resolved")
    result = await repository.apply_case_events([illegal])

    assert result.applied == 0 and len(result.rejected) == 1
    assert "not allowed" in result.rejected[0][1]
    case = present(await repository.get_case(str(call.call_id)))
    assert case["status"] == "dispatched"
    assert [h["outcome"] for h in case["history"]] == ["applied", "rejected"]  # the first dispatch, the step
    assert (await repository.apply_case_events([illegal])).rejected == []  # redelivered: already recorded


async def test_a_step_before_its_case_waits_and_is_applied_when_the_case_arrives(mongo_db) -> None:
    repository = await ready(mongo_db)
    call = factories.routed("early")

    waiting = await repository.apply_case_events(
        [factories.case_step(call, "accepted"), factories.case_step(call, "responded")]
    )
    assert waiting.pending == 2 and await repository.pending_count() == 2

    await repository.apply_routed([call])

    case = present(await repository.get_case(str(call.call_id)))
    assert case["status"] == "responded"
    assert await repository.pending_count() == 0
    assert present(await mongo_db.counters.find_one({"_id": UNIT}))["responded"] == 1


async def test_a_retried_transaction_applies_the_waiting_steps_once(mongo_db) -> None:
    """with_transaction runs a batch's callback again after a transient error (a write conflict): the second
    attempt must start from the events, not from the cases the aborted attempt changed."""
    repository = await ready(mongo_db)
    database = repository.database
    calls = [factories.routed(f"retried-{i}") for i in range(3)]
    accepted = factories.case_step(calls[0], "accepted")
    await repository.apply_case_events([accepted])
    transaction = database.transaction

    async def aborted_once_then_committed(callback: Any) -> Any:
        async with database.db.client.start_session() as session:
            await session.start_transaction()
            await callback(session)
            await session.abort_transaction()
        return await transaction(callback)

    database.transaction = aborted_once_then_committed  # type: ignore[method-assign]
    result = await repository.apply_routed_detailed(calls)

    assert result.applied == 3 and result.rejected == []
    case = present(await repository.get_case(str(calls[0].call_id)))
    assert case["status"] == "accepted"
    assert [h["kind"] for h in case["history"]] == ["dispatched", "accepted"]
    assert await repository.pending_count() == 0
    assert present(await mongo_db.counters.find_one({"_id": UNIT}))["dispatched"] == 3


async def test_a_redispatch_moves_depth_and_oldest_waiting_to_the_new_queue(mongo_db) -> None:
    repository = await ready(mongo_db)
    april = datetime(2026, 4, 10, 2, tzinfo=UTC)
    older, newer = (
        factories.routed("older", received_at=april),
        factories.routed("newer", received_at=april + timedelta(hours=1)),
    )
    await repository.apply_routed([older, newer])
    department = older.assignment.model_copy(
        update={
            "queue_id": "department:市住房城乡建设委",
            "unit_kind": UnitKind.department,
            "unit_name": "住建委",
            "attempt": 2,
        }
    )

    await repository.apply_case_events(
        [factories.case_step(older, "returned"), factories.case_step(older, "dispatched", assignment=department)]
    )

    queues = {q.queue_id: q for q in await repository.queues()}
    assert queues[STREET].depth == 1
    assert queues[STREET].oldest_waiting_call_id == str(newer.call_id)
    assert queues["department:市住房城乡建设委"].depth == 1
    assert await repository.queue_depth_by_count(STREET) == 1


async def test_a_summoned_department_sees_the_case_in_its_queue(mongo_db) -> None:
    repository = await ready(mongo_db)
    call = factories.routed("whistle")
    await repository.apply_routed([call])

    await repository.apply_case_events(
        [
            factories.case_step(call, "accepted"),
            factories.case_step(call, "whistle", departments=["department:市城管委"]),
        ]
    )

    listed = await repository.cases_of_queue("department:市城管委")
    assert [c["call_id"] for c in listed] == [str(call.call_id)]


async def test_a_queue_pages_by_its_keyset_cursor_both_ways_through_sparse_and_dense_days(mongo_db) -> None:
    repository = await ready(mongo_db)
    start = datetime.now(UTC) - timedelta(days=40)
    gaps = [timedelta(minutes=3)] * 30 + [timedelta(days=9)] + [timedelta(hours=5)] * 20 + [timedelta(seconds=20)] * 30
    times = [start + sum(gaps[:i], timedelta()) for i in range(len(gaps))]
    calls = [factories.routed(f"page-{i}", received_at=at) for i, at in enumerate(times)]
    await repository.apply_routed(calls)
    # A case the street only cooperates on, older than the street's oldest led case.
    older = factories.routed("cooperating", received_at=start - timedelta(days=3), queue_id="street:朝阳区/望京街道")
    older = older.model_copy(update={"assignment": older.assignment.model_copy(update={"cooperating_units": [STREET]})})
    await repository.apply_routed([older])
    expected = [str(older.call_id)] + [str(call.call_id) for call in calls]

    pages, after = [], None
    while page := await repository.reads.cases_of_queue(STREET, limit=7, after=after):
        pages.append([case["call_id"] for case in page])
        after = page[-1]["received_at"]
    assert [call_id for page in pages for call_id in page] == expected and len(pages[0]) == 7
    pages, before = [], None
    while page := await repository.reads.cases_of_queue(STREET, limit=9, before=before, oldest_first=False):
        pages.append([case["call_id"] for case in page])
        before = page[-1]["received_at"]
    assert [call_id for page in pages for call_id in page] == expected[::-1]


async def test_a_store_written_before_the_digests_gets_them_once_when_the_worker_opens_it(mongo_db) -> None:
    repository = await ready(mongo_db)
    calls = [factories.routed(f"old-{i}") for i in range(5)]
    await repository.apply_routed(calls)
    await repository.apply_case_events(
        [factories.case_step(calls[0], "accepted"), factories.case_step(calls[1], "resolved")]
    )
    digests = await stored_digests(mongo_db)
    await mongo_db.open_cases.drop()  # as a store written before this version holds none

    assert await MetricsRepository(mongo_db).reads.open_cases.complete() is False
    reopened = await ready(mongo_db)
    assert await stored_digests(mongo_db) == digests and await reopened.reads.open_cases.complete()
    assert await reopened.open_cases.ensure_complete() == 0, "built once"


async def test_each_batch_writes_digests_of_its_own_and_a_digest_its_cases_left_is_deleted(mongo_db) -> None:
    """A batch's new cases go into digests of their own (one per queue), so a later batch in the same hour never
    rewrites them; a step changes the one digest that holds the case; an emptied digest is deleted."""
    repository = await ready(mongo_db)
    hour = datetime.now(UTC).replace(minute=1, second=0, microsecond=0) - timedelta(hours=2)
    first = [factories.routed(f"dig-a{i}", received_at=hour + timedelta(seconds=i)) for i in range(3)]
    second = [factories.routed(f"dig-b{i}", received_at=hour + timedelta(seconds=9 + i)) for i in range(2)]
    await repository.apply_routed(first)
    before = {d["_id"]: d async for d in mongo_db.open_cases.find({"queue_id": {"$exists": True}})}
    await repository.apply_routed(second)
    after = {d["_id"]: d async for d in mongo_db.open_cases.find({"queue_id": {"$exists": True}})}
    # one digest per queue the cases wait in (the street leads, the department cooperates) and per batch
    assert len(before) == 2 and len(after) == 4 and all(after[key] == doc for key, doc in before.items())
    queue_id = STREET
    assert len(await repository.reads.open_cases.entries_of_queue(queue_id)) == 5

    await repository.apply_case_events([factories.case_step(first[0], "accepted")])
    changed = {d["_id"]: d async for d in mongo_db.open_cases.find({"queue_id": {"$exists": True}})}
    assert {key for key in after if changed[key] != after[key]} == set(before), "only the first batch's digests"
    steps = [factories.case_step(c, kind) for c in second for kind in ("accepted", "responded", "resolved")]
    result = await repository.apply_case_events(steps)
    assert not result.rejected
    left = {d["_id"] async for d in mongo_db.open_cases.find({"queue_id": {"$exists": True}})}
    assert left == set(before), "the second batch's digests, which no case waits in any more, are gone"


async def test_digests_of_an_older_layout_are_written_again_when_the_worker_opens_the_store(mongo_db) -> None:
    repository = await ready(mongo_db)
    calls = [factories.routed(f"layout-{i}") for i in range(4)]
    await repository.apply_routed(calls)
    digests = await stored_digests(mongo_db)
    await mongo_db.open_cases.delete_many({})  # the first layout: one digest per queue and hour, its marker unversioned
    hour = calls[0].call.received_at.astimezone(UTC).strftime("%Y-%m-%dT%H")
    await mongo_db.open_cases.insert_many(
        [
            {"_id": f"{hour}|{STREET}", "queue_id": STREET, "hour": hour, "cases": {"x": "{}"}},
            {"_id": "_complete", "at": datetime.now(UTC)},
        ]
    )
    reopened = MetricsRepository(mongo_db)
    assert await reopened.reads.open_cases.complete() is False
    assert await reopened.open_cases.ensure_complete() == sum(len(entries) for entries in digests.values())
    assert await stored_digests(mongo_db) == digests and await reopened.open_cases.ensure_complete() == 0


async def test_each_deadline_is_flagged_once_counted_and_queued_for_publishing(mongo_db) -> None:
    repository = await ready(mongo_db)
    call = factories.routed("late")
    await repository.apply_routed([call])
    later = call.call.received_at + timedelta(hours=3)

    assert await repository.flag_overdue(later) == 1
    assert await repository.flag_overdue(later) == 0
    assert await repository.flag_overdue(later + timedelta(days=8)) == 1  # the resolution deadline

    case = present(await repository.get_case(str(call.call_id)))
    assert set(case["overdue"]) == {"response", "resolution"}
    assert case.get("next_due_at") is None
    outbox = await repository.outbox_messages()
    assert sorted(m["topic"] for m in outbox) == ["hotline.cases.overdue.v1"] * 2
    unit = await mongo_db.counters.find_one({"_id": UNIT})
    assert (unit["overdue_response"], unit["overdue_resolution"]) == (1, 1)
    assert (await repository.queues())[0].overdue == 1
    await repository.mark_published([m["_id"] for m in outbox])
    assert await repository.outbox_messages() == []


async def test_cases_without_a_deadline_carry_no_next_due_at_and_the_watcher_skips_them(mongo_db) -> None:
    repository = await ready(mongo_db)
    done, late = factories.routed("done"), factories.routed("still-open")
    await repository.apply_routed([done, late])
    await repository.apply_case_events(
        [factories.case_step(done, kind) for kind in ("accepted", "responded", "resolved")]
        + [factories.case_step(done, "callback", callback_result="satisfied"), factories.case_step(done, "closed")]
    )
    # A store written before the field was removed holds null on its finished cases: still skipped.
    await mongo_db.cases.insert_one({"_id": "old-closed", "status": "closed", "next_due_at": None})

    closed = await mongo_db.cases.find_one({"_id": str(done.call_id)})
    assert closed["status"] == "closed"
    assert "next_due_at" not in closed
    assert (await mongo_db.cases.find_one({"_id": str(late.call_id)}))["next_due_at"] is not None
    assert await repository.flag_overdue(late.call.received_at + timedelta(days=30)) == 2  # both deadlines
    flagged = await mongo_db.cases.find_one({"_id": str(late.call_id)})
    assert "next_due_at" not in flagged
    assert await mongo_db.cases.count_documents({"next_due_at": {"$exists": True}}) == 1  # the old null only


async def test_streaming_counters_equal_the_rebuilt_ones_after_a_random_stream(mongo_db) -> None:
    rng = random.Random(5)
    repository = await ready(mongo_db)
    queues = [STREET, "street:朝阳区/望京街道", "department:市住房城乡建设委"]
    calls = [
        factories.routed(
            f"rand-{i}",
            received_at=datetime(2026, 3, 25, tzinfo=UTC) + timedelta(hours=7 * i),
            issue=rng.choice([None, "wage-arrears", "prepaid-refund"]),
            queue_id=rng.choice(queues),
        )
        for i in range(40)
    ]
    paths = [
        ["accepted", "responded", "resolved", "callback", "closed"],
        ["accepted", "returned", "dispatched", "accepted", "responded"],
        ["accepted", "responded", "resolved", "callback", "reopened", "responded"],
        ["resolved"],  # illegal
        ["accepted", "whistle", "responded", "resolved"],
    ]
    events: list[CaseEvent] = []
    for call in calls:
        for kind in rng.choice(paths):
            fields: dict[str, Any] = {}
            if kind == "callback":
                fields["callback_result"] = rng.choice(
                    ["satisfied", "basically_satisfied", "dissatisfied", "unreachable"]
                )
            if kind == "dispatched":
                fields["assignment"] = call.assignment.model_copy(update={"queue_id": rng.choice(queues), "attempt": 2})
            if kind == "whistle":
                fields["departments"] = ["department:市城管委"]
            events.append(factories.case_step(call, kind, **fields))
    # Deliver in batches with duplicates and replays; a few steps arrive before their call.
    routed_batches = [calls[i : i + 7] for i in range(0, len(calls), 7)]
    early = [e for e in events if e.call_id in {c.call_id for c in routed_batches[-1]}]
    await repository.apply_case_events(early)
    for routed_batch in routed_batches:
        await repository.apply_routed(routed_batch + rng.sample(calls, 3))
    position = 0
    while position < len(events):
        size = rng.randint(1, 15)
        batch = events[position : position + size]
        replay = rng.sample(events[: position + size], min(4, position + size))
        await repository.apply_case_events(sorted(batch + replay, key=events.index))
        position += size
    await repository.flag_overdue(datetime(2026, 5, 20, tzinfo=UTC))
    await repository.apply_case_events(events)  # a full replay changes nothing

    streamed = await repository.stored_counters()
    assert streamed == await repository.computed_counters()
    digests = await stored_digests(mongo_db)
    await repository.rebuild()
    assert await repository.stored_counters() == streamed
    assert await stored_digests(mongo_db) == digests, "the queues' digests equal the ones rebuilt from the cases"
    open_statuses = ["dispatched", "accepted", "responded", "returned"]
    for queue_id in [*queues, "department:市城管委"]:
        waiting = {
            c["_id"] async for c in mongo_db.cases.find({"queue_ids": queue_id, "status": {"$in": open_statuses}})
        }
        assert {e["_id"] for e in await repository.reads.open_cases.entries_of_queue(queue_id)} == waiting
        total, listed = await repository.reads.search_cases(CaseFilter(queue_id=queue_id, words=("拖欠",)), limit=3)
        assert total == len(waiting) and len(listed) == min(3, total)
    # The month's street scoreboard document agrees with the streets' own counters.
    for month in ("2026-03", "2026-04", "2026-05"):
        board = (await repository.street_scoreboards([month])).get(month, {})
        units = await repository.monthly_counters(month, "unit", "street")
        assert {u["value"]: u.get("count", 0) for u in units if u.get("count")} == {
            unit_id: counts.get("count", 0) for unit_id, counts in board.items() if counts.get("count")
        }


async def stored_blocks(mongo_db) -> dict[str, dict[str, str]]:
    """The word blocks as a search reads them (hour -> call id -> its newest entry)."""
    return await (await ready(mongo_db)).word_blocks.entries_by_hour()


async def test_a_word_search_over_the_whole_store_pages_newest_first_with_a_bounded_cost(mongo_db) -> None:
    repository = await ready(mongo_db)
    start = datetime.now(UTC) - timedelta(days=20)
    times = [start + timedelta(hours=7 * i) for i in range(60)]
    times[12] = times[9]  # two cases received in the same millisecond: the cursor's call id separates them
    calls = [
        factories.routed(f"words-{i}", received_at=at).model_copy(
            update={"call": factories.call(f"words-{i}", body="燃气泄漏" if i % 3 == 0 else "噪音扰民", received_at=at)}
        )
        for i, at in enumerate(times)
    ]
    await repository.apply_routed(calls)
    with_gas = sorted(((c.call.received_at, str(c.call_id)) for i, c in enumerate(calls) if i % 3 == 0), reverse=True)

    for limit, budget in ((4, 9), (1, 1000)):
        pages, cursor = [], None
        while True:
            found = CaseFilter(words=("燃气",))
            listed, page = await repository.reads.search_words(found, before=cursor, limit=limit, budget=budget)
            pages.append([case["call_id"] for case in listed])
            assert page.looked_at <= budget + 1, "a page stops once it looked at its budget (an hour: 1-2 cases)"
            if page.next is None:
                break
            cursor = page.next
        assert [call_id for page in pages for call_id in page] == [call_id for _, call_id in with_gas]
        if limit == 4:
            assert any(len(page) < 4 for page in pages[:-1]), "a page that spent its budget goes on with fewer hits"

    # The other filters are checked on the hits; a reclassification changes the words a case is found by.
    accepted = calls[0]
    await repository.apply_case_events([factories.case_step(accepted, "accepted")])
    listed, page = await repository.reads.search_words(CaseFilter(words=("燃气",), statuses=("accepted",)))
    assert [case["call_id"] for case in listed] == [str(accepted.call_id)] and page.next is None
    moved = factories.case_step(
        calls[1], "reclassified", classification=factories.classification("城乡建设", subcategory="供热", item="不热")
    )
    await repository.apply_case_events([moved])
    listed, _ = await repository.reads.search_words(CaseFilter(words=("供热", "噪音")))
    assert [case["call_id"] for case in listed] == [str(calls[1].call_id)]
    listed, _ = await repository.reads.search_words(CaseFilter(words=("劳动和社会保障", "噪音")))
    assert str(calls[1].call_id) not in {case["call_id"] for case in listed}, "its old entry is no longer read"

    blocks = await stored_blocks(mongo_db)
    await repository.rebuild()
    assert await stored_blocks(mongo_db) == blocks, "the word blocks equal the ones rebuilt from the cases"
    await mongo_db.word_blocks.drop()  # a store written before this version: built once, beside the worker's work
    reopened = await ready(mongo_db)
    assert await reopened.backfill_word_blocks() == len(calls)
    assert await stored_blocks(mongo_db) == blocks and await reopened.backfill_word_blocks() == 0


async def test_a_batch_adds_its_own_word_blocks_and_never_rewrites_an_earlier_one(mongo_db) -> None:
    """Each batch inserts a block per hour it touches: the cost of a batch's words is its own, however many cases
    its hour already holds (one growing document per hour was re-encoded whole by every batch)."""
    repository = await ready(mongo_db)
    hour = datetime.now(UTC).replace(minute=5, second=0, microsecond=0) - timedelta(hours=3)
    first = [factories.routed(f"block-a{i}", received_at=hour + timedelta(seconds=i)) for i in range(3)]
    second = [factories.routed(f"block-b{i}", received_at=hour + timedelta(seconds=10 + i)) for i in range(2)]
    await repository.apply_routed(first)
    before = [doc async for doc in mongo_db.word_blocks.find({"_id": {"$regex": r"^\d"}})]
    await repository.apply_routed(second)
    await repository.apply_routed(second)  # a replay writes nothing
    after = [doc async for doc in mongo_db.word_blocks.find({"_id": {"$regex": r"^\d"}})]
    assert len(before) == 1 and len(before[0]["cases"]) == 3
    assert len(after) == 2 and before[0] in after, "the first block is untouched"
    assert {len(doc["cases"]) for doc in after} == {3, 2}
    merged = await repository.word_blocks.entries_by_hour()
    assert set(merged[hour.strftime("%Y-%m-%dT%H")]) == {str(c.call_id) for c in first + second}


async def test_a_queue_page_cursor_neither_skips_nor_repeats_cases_received_in_the_same_millisecond(mongo_db) -> None:
    repository = await ready(mongo_db)
    same = datetime.now(UTC).replace(microsecond=123000) - timedelta(hours=2)
    calls = [factories.routed(f"tie-{i}", received_at=same) for i in range(5)]
    calls.append(factories.routed("tie-later", received_at=same + timedelta(minutes=1)))
    await repository.apply_routed(calls)
    by_time = sorted((c.call.received_at, str(c.call_id)) for c in calls)

    pages, after, after_id = [], None, None
    while page := await repository.reads.cases_of_queue(STREET, limit=2, after=after, after_id=after_id):
        pages.append([case["call_id"] for case in page])
        after, after_id = page[-1]["received_at"], page[-1]["call_id"]
    assert [call_id for page in pages for call_id in page] == [call_id for _, call_id in by_time]
    pages, before, before_id = [], None, None
    while page := await repository.reads.cases_of_queue(
        STREET, limit=2, before=before, before_id=before_id, oldest_first=False
    ):
        pages.append([case["call_id"] for case in page])
        before, before_id = page[-1]["received_at"], page[-1]["call_id"]
    assert [call_id for page in pages for call_id in page] == [call_id for _, call_id in reversed(by_time)]
