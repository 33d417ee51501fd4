"""承办人 on the real embedded database: assignment steps applied once, each operator's load kept in the queue's
counter (equal to a rebuild from the cases), the search filter, and the read API's load scoped by the key."""

from __future__ import annotations

import httpx
import pytest

from services.metrics.api import create_app
from services.metrics.case_search import CaseFilter
from services.metrics.repository import MetricsRepository
from shared.api_keys import CASES_READ, READ_ALL, create_key
from shared.events import CaseEvent, CaseEventKind
from tests import factories

pytestmark = pytest.mark.integration

STREET = "street:大兴区/西红门镇"
HOUSING = "department:市住房城乡建设委"


def assign(of: object, name: str) -> CaseEvent:
    return factories.case_step(of, CaseEventKind.assigned, assignee=name)  # type: ignore[arg-type]


async def test_assignments_apply_once_keep_history_and_the_load_equals_a_rebuild(mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    calls = [factories.routed(f"load-{i}") for i in range(5)]
    await repository.apply_routed(calls)
    first = [assign(calls[0], "wang"), assign(calls[1], "wang"), assign(calls[2], "li.na")]

    done = await repository.apply_case_events(first)
    again = await repository.apply_case_events(first)  # redelivered: the same event ids

    assert (done.applied, again.applied, again.duplicates) == (3, 0, 3)
    load = await repository.reads.queue_load(STREET)
    assert (load.open, load.unassigned, load.assignees) == (5, 2, {"wang": 2, "li.na": 1})

    # Reassign one of wang's cases to li.na, resolve li.na's first, return another: each moves the counts.
    moved = await repository.apply_case_events(
        [
            assign(calls[1], "li.na"),
            *(factories.case_step(calls[2], kind) for kind in ("accepted", "responded", "resolved")),
            assign(calls[3], "zhao"),
            factories.case_step(calls[3], "returned", note="不属于本街道"),
        ]
    )
    assert moved.applied == 6 and not moved.rejected
    load = await repository.reads.queue_load(STREET)
    assert (load.open, load.unassigned, load.assignees) == (4, 2, {"li.na": 1, "wang": 1})

    case = await repository.get_case(str(calls[1].call_id))
    assert case is not None and (case["status"], case["assignee"]) == ("dispatched", "li.na")
    steps = [(s["assignee"], s.get("previous_assignee")) for s in case["history"] if s["kind"] == "assigned"]
    assert steps == [("wang", None), ("li.na", "wang")]
    returned = await repository.get_case(str(calls[3].call_id))
    assert returned is not None and "assignee" not in returned and returned["status"] == "returned"

    streamed = await repository.stored_counters()
    assert streamed == await repository.computed_counters()  # `hotline metrics rebuild --check`: no drift
    await repository.rebuild()
    assert await repository.stored_counters() == streamed
    assert await repository.reads.queue_load(STREET) == load

    mine = CaseFilter(queue_id=STREET, assignee="wang")
    assert [c["call_id"] for c in (await repository.reads.search_cases(mine))[1]] == [str(calls[0].call_id)]
    unassigned = CaseFilter(queue_id=STREET, unassigned=True)
    total, cases = await repository.reads.search_cases(unassigned)
    assert total == 2 and {c["call_id"] for c in cases} == {str(calls[3].call_id), str(calls[4].call_id)}
    assert all(c.get("assignee") is None for c in cases)

    # 取消指派: wang's case taken back (once, however often delivered); a second take-back has nothing to take.
    back = factories.case_step(calls[0], CaseEventKind.unassigned)
    taken = await repository.apply_case_events([back, back])
    assert (taken.applied, taken.duplicates) == (1, 1)
    refused = await repository.apply_case_events([factories.case_step(calls[0], CaseEventKind.unassigned)])
    assert len(refused.rejected) == 1 and "none is assigned" in refused.rejected[0][1]
    load = await repository.reads.queue_load(STREET)
    assert (load.open, load.unassigned, load.assignees) == (4, 3, {"li.na": 1})
    assert await repository.stored_counters() == await repository.computed_counters()
    total, _ = await repository.reads.search_cases(unassigned)
    assert total == 3


async def test_the_read_api_gives_a_queues_load_to_its_own_unit_only(mongo_db, metrics_settings) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    calls = [factories.routed(f"api-load-{i}") for i in range(2)]
    await repository.apply_routed(calls)
    await repository.apply_case_events([assign(calls[0], "wang")])
    app = create_app(metrics_settings, database=mongo_db)
    keys = {
        "all": create_key(metrics_settings.api_keys_file, "reader", (READ_ALL,)),
        "street": create_key(metrics_settings.api_keys_file, "street", (CASES_READ,), units=[STREET]),
        "housing": create_key(metrics_settings.api_keys_file, "housing", (CASES_READ,), units=[HOUSING]),
    }

    async def get(key: str, path: str, **params: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://m", headers={"X-API-Key": keys[key]}) as c:
            return await c.get(path, params=params)

    for key in ("all", "street"):
        response = await get(key, f"/v1/queues/{STREET}/load")
        assert response.status_code == 200
        assert response.json() == {
            "queue_id": STREET,
            "open": 2,
            "unassigned": 1,
            "assignees": [{"assignee": "wang", "open": 1}],
        }
    assert (await get("housing", f"/v1/queues/{STREET}/load")).status_code == 404
    case = (await get("street", f"/v1/cases/{calls[0].call_id}")).json()
    assert case["assignee"] == "wang" and case["assigned_at"]
    found = (await get("street", "/v1/search", queue_id=STREET, assignee="wang")).json()
    assert [c["call_id"] for c in found["cases"]] == [str(calls[0].call_id)]
    found = (await get("street", "/v1/search", queue_id=STREET, unassigned="true")).json()
    assert [c["call_id"] for c in found["cases"]] == [str(calls[1].call_id)]
