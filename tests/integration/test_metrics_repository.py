"""The metrics repository on the real database: exactly-once effects, indexes, queue depth and reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.metrics.repository import MetricsRepository
from shared.queues import is_urgent
from tests import factories
from tests.helpers import present

pytestmark = pytest.mark.integration

APRIL = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)


async def counters_by_id(db) -> dict[str, dict]:
    return {doc["_id"]: doc async for doc in db.counters.find({})}


async def test_applying_the_same_batch_twice_stores_one_case_per_call_and_counts_once(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    batch = [factories.routed(f"twice-{i}", issue="wage-arrears") for i in range(20)]

    first = await repository.apply_routed(batch)
    counters_after_first = await counters_by_id(mongo_db)
    second = await repository.apply_routed(batch)

    assert (first, second) == (20, 0)
    assert await mongo_db.cases.count_documents({}) == 20
    assert await counters_by_id(mongo_db) == counters_after_first
    assert counters_after_first["2026-04|category|劳动和社会保障"]["count"] == 20
    assert counters_after_first["2026-04|issue|wage-arrears"]["count"] == 20
    assert counters_after_first["queue|street:大兴区/西红门镇"]["open"] == 20


async def test_overlapping_batches_count_each_call_once(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    events = [factories.routed(f"overlap-{i}") for i in range(30)]

    first = await repository.apply_routed(events[:20])
    second = await repository.apply_routed(events[10:30])

    assert (first, second) == (20, 10)
    assert await mongo_db.cases.count_documents({}) == 30
    counts = {c.value: c.count for c in await repository.monthly_counts("2026-04", "unit")}
    assert counts == {"street:大兴区/西红门镇": 30}


async def test_a_batch_with_a_call_repeated_counts_it_once(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    event = factories.routed("repeated")

    assert await repository.apply_routed([event, event, event.model_copy(update={"event_id": uuid.uuid4()})]) == 1
    assert await mongo_db.cases.count_documents({}) == 1
    assert (await repository.monthly_counts("2026-04", "category"))[0].count == 1


async def test_a_transaction_that_fails_leaves_neither_cases_nor_counters(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    batch = [factories.routed(f"abort-{i}") for i in range(5)]
    # A counter with a non-numeric count makes $inc fail inside the transaction after the insert.
    await mongo_db.counters.insert_one({"_id": "2026-04|category|劳动和社会保障", "count": "not a number"})

    with pytest.raises(Exception):  # noqa: B017 - the server's error type is what it is
        await repository.apply_routed(batch)

    assert await mongo_db.cases.count_documents({}) == 0
    await mongo_db.counters.delete_one({"_id": "2026-04|category|劳动和社会保障"})
    assert await repository.apply_routed(batch) == 5
    assert (await repository.monthly_counts("2026-04", "category"))[0].count == 5


async def test_indexes_are_created_for_queue_reads_deadlines_and_duplicate_detection(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)

    await repository.ensure_indexes()
    await repository.ensure_indexes()

    case_indexes = {tuple(spec["key"]) for spec in (await mongo_db.cases.index_information()).values()}
    assert (("queue_ids", 1), ("status", 1), ("received_at", 1)) in case_indexes
    assert (("next_due_at", 1),) in case_indexes
    assert (("call.location.address", 1), ("received_at", -1)) in case_indexes
    assert (("call.contact.hash", 1), ("received_at", -1)) in case_indexes
    assert (("queue_ids", 1), ("assignment.priority", 1), ("status", 1)) in case_indexes  # a queue's urgent cases
    assert len(case_indexes) == 6  # each index costs insert time on the embedded database
    counter_indexes = await mongo_db.counters.index_information()
    assert "_id_" in counter_indexes


async def test_queue_depth_and_oldest_waiting_case(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    street = [factories.routed(f"q-{i}", received_at=APRIL + timedelta(minutes=i)) for i in (5, 1, 9)]
    department = factories.routed(
        "q-dept",
        queue_id="department:市住房城乡建设委",
        unit_kind="department",
        unit_name="市住房城乡建设委",
        received_at=APRIL,
    )
    # Older than every case the department leads, but only cooperated on there: never its oldest waiting case.
    whistled = factories.routed("q-whistled", queue_id="street:朝阳区/望京街道", received_at=APRIL - timedelta(days=1))
    whistled = whistled.model_copy(
        update={
            "assignment": whistled.assignment.model_copy(update={"cooperating_units": ["department:市住房城乡建设委"]})
        }
    )
    await repository.apply_routed([street[0], department, whistled])
    await repository.apply_routed(street)  # brings an older case (minute 1) in a later batch

    queues = {q.queue_id: q for q in await repository.queues()}

    assert queues["street:大兴区/西红门镇"].depth == 3
    assert queues["street:大兴区/西红门镇"].oldest_waiting_received_at == APRIL + timedelta(minutes=1)
    assert queues["street:大兴区/西红门镇"].oldest_waiting_call_id == str(street[1].call_id)
    assert queues["street:大兴区/西红门镇"].unit_name == "西红门镇"
    assert queues["department:市住房城乡建设委"].depth == 1
    assert queues["department:市住房城乡建设委"].unit_kind == "department"
    assert await repository.queue_depth_by_count("street:大兴区/西红门镇") == 3
    assert present(await repository.oldest_waiting("street:大兴区/西红门镇"))["_id"] == str(street[1].call_id)
    assert present(await repository.oldest_waiting("department:市住房城乡建设委"))["_id"] == str(department.call_id)
    assert queues["department:市住房城乡建设委"].oldest_waiting_call_id == str(department.call_id)


async def test_cases_of_a_queue_come_oldest_first_and_page_by_time(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    events = [factories.routed(f"page-{i}", received_at=APRIL + timedelta(minutes=i)) for i in range(5)]
    await repository.apply_routed(events)

    oldest = await repository.cases_of_queue("street:大兴区/西红门镇", limit=2)
    newest = await repository.cases_of_queue("street:大兴区/西红门镇", limit=2, oldest_first=False)
    earlier = await repository.cases_of_queue("street:大兴区/西红门镇", before=APRIL + timedelta(minutes=2))
    later = await repository.cases_of_queue("street:大兴区/西红门镇", after=oldest[-1]["received_at"], limit=2)

    assert [c["call_id"] for c in oldest] == [str(events[0].call_id), str(events[1].call_id)]
    assert [c["call_id"] for c in newest] == [str(events[4].call_id), str(events[3].call_id)]
    assert [c["call_id"] for c in earlier] == [str(events[0].call_id), str(events[1].call_id)]
    assert [c["call_id"] for c in later] == [str(events[2].call_id), str(events[3].call_id)]
    assert oldest[0]["received_at"] == APRIL


async def test_urgent_cases_come_first_on_a_work_queues_first_page_when_asked(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    events = [factories.routed(f"urgent-{i}", received_at=APRIL + timedelta(minutes=i)) for i in range(4)]
    gas_leak = events[3].model_copy(update={"assignment": events[3].assignment.model_copy(update={"priority": 1})})
    await repository.apply_routed([*events[:3], gas_leak])
    queue = "street:大兴区/西红门镇"

    work = await repository.cases_of_queue(queue, limit=3, urgent_first=True)
    plain = await repository.cases_of_queue(queue, limit=3)
    following = await repository.cases_of_queue(queue, after=work[-1]["received_at"], limit=3, urgent_first=True)

    ids = [str(e.call_id) for e in events]
    assert [c["call_id"] for c in work] == [ids[3], ids[0], ids[1]]
    assert is_urgent(work[0]["assignment"]["priority"]) and not is_urgent(work[1]["assignment"]["priority"])
    assert [c["call_id"] for c in plain] == ids[:3]
    assert [c["call_id"] for c in following] == ids[2:]  # later pages go on by time


async def test_get_case_returns_the_stored_case_or_none(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    event = factories.routed("get-me")
    await repository.apply_routed([event])

    case = await repository.get_case(str(event.call_id))

    assert case is not None
    assert case["call"]["contact"]["masked"] == "138****5678"
    assert case["received_at"].tzinfo is not None
    assert await repository.get_case(str(uuid.uuid4())) is None


async def test_monthly_counts_per_dimension_follow_the_city_time_zone(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.apply_routed(
        [
            factories.routed("m1", received_at=datetime(2026, 3, 31, 17, 30, tzinfo=UTC), issue="wage-arrears"),
            factories.routed("m2", received_at=datetime(2026, 3, 31, 15, 0, tzinfo=UTC), district="朝阳区"),
        ]
    )

    april = {c.value: c.count for c in await repository.monthly_counts("2026-04", "district")}
    march = {c.value: c.count for c in await repository.monthly_counts("2026-03", "district")}
    issues = await repository.monthly_counts("2026-04", "issue")
    units = await repository.monthly_counts("2026-03", "unit")

    assert april == {"大兴区": 1}
    assert march == {"朝阳区": 1}
    assert [(i.value, i.count) for i in issues] == [("wage-arrears", 1)]
    assert units[0].label == "西红门镇"
    with pytest.raises(ValueError):
        await repository.monthly_counts("2026-04", "colour")


async def test_the_existence_check_in_slices_finds_every_stored_call(mongo_db) -> None:
    repository = MetricsRepository(mongo_db, ids_per_lookup=3)
    events = [factories.routed(f"slice-{i}") for i in range(10)]

    first = await repository.apply_routed(events[:7])
    second = await repository.apply_routed(events)

    assert (first, second) == (7, 3)
    assert await mongo_db.cases.count_documents({}) == 10
    assert (await repository.monthly_counts("2026-04", "category"))[0].count == 10


async def test_a_queue_that_gains_and_loses_in_one_batch_keeps_its_oldest_without_reading_its_open_cases(
    mongo_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    queue, other = "street:大兴区/西红门镇", "street:朝阳区/望京街道"
    oldest, later = (factories.routed(f"gl-{i}", received_at=APRIL + timedelta(minutes=i)) for i in (0, 5))
    elsewhere = factories.routed(
        "gl-elsewhere", queue_id=other, unit_name="望京街道", district="朝阳区", received_at=APRIL - timedelta(hours=1)
    )
    await repository.apply_routed([oldest, later, elsewhere])
    looked_up: list[str] = []
    lookup = repository.counters.oldest_waiting

    async def counted(queue_id: str, session=None):  # type: ignore[no-untyped-def]
        looked_up.append(queue_id)
        return await lookup(queue_id, session=session)

    monkeypatch.setattr(repository.counters, "oldest_waiting", counted)

    # One batch: the older case from the other street is re-dispatched here (gained), a later one is resolved (left).
    moved = factories.case_step(elsewhere, "dispatched", assignment=later.assignment)
    steps = [factories.case_step(later, kind) for kind in ("accepted", "responded", "resolved")]
    result = await repository.apply_case_events([moved, *steps])

    assert result.applied == 4
    queues = {q.queue_id: q for q in await repository.queues()}
    assert queues[queue].depth == 2
    assert queues[queue].oldest_waiting_call_id == str(elsewhere.call_id)  # the earlier of its oldest and the gain
    assert looked_up == [other]  # only the queue whose oldest left is read again
    assert queues[other].depth == 0
    assert queues[other].oldest_waiting_call_id is None
