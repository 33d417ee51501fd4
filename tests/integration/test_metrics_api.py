"""The metrics read API and queue page, over ASGI, against the real database."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.metrics.api import create_app
from services.metrics.repository import MetricsRepository
from services.metrics.settings import MetricsSettings
from shared.api_keys import CALLS_WRITE, CASES_ACT, CASES_READ, READ_ALL, create_key
from tests import factories

pytestmark = pytest.mark.integration

APRIL = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)
STREET = "street:大兴区/西红门镇"


@pytest.fixture
async def stored(mongo_db) -> list:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    events = [
        factories.routed(f"api-{i}", received_at=APRIL + timedelta(minutes=i), issue="wage-arrears") for i in range(3)
    ]
    events.append(
        factories.routed(
            "api-dept",
            category="城乡建设",
            queue_id="department:市住房城乡建设委",
            unit_kind="department",
            unit_name="市住房城乡建设委",
            district="朝阳区",
            received_at=APRIL,
        )
    )
    await repository.apply_routed(events)
    return events


@pytest.fixture
def client(metrics_client):
    return metrics_client


async def test_queues_list_depth_oldest_waiting_and_its_age(client, stored) -> None:
    response = await client.get("/v1/queues")

    assert response.status_code == 200
    queues = {q["queue_id"]: q for q in response.json()["queues"]}
    street = queues[STREET]
    assert street["depth"] == 3
    assert street["unit_name"] == "西红门镇"
    assert street["oldest_waiting"]["call_id"] == str(stored[0].call_id)
    assert datetime.fromisoformat(street["oldest_waiting"]["received_at"]) == APRIL
    assert street["oldest_waiting"]["age_seconds"] > 0
    assert queues["department:市住房城乡建设委"]["depth"] == 1
    assert next(iter(queues)) == STREET  # deepest queue first


async def test_cases_of_a_queue_whose_id_has_a_slash_come_oldest_first(client, stored) -> None:
    response = await client.get(f"/v1/queues/{quote(STREET, safe='')}/cases", params={"limit": 2})

    assert response.status_code == 200
    body = response.json()
    assert [c["call_id"] for c in body["cases"]] == [str(stored[0].call_id), str(stored[1].call_id)]
    following = await client.get(f"/v1/queues/{STREET}/cases", params={"limit": 2, "after": body["next_after"]})
    assert [c["call_id"] for c in following.json()["cases"]] == [str(stored[2].call_id)]


async def test_cases_of_a_queue_newest_first_page_with_before(client, stored) -> None:
    first = (await client.get(f"/v1/queues/{STREET}/cases", params={"limit": 2, "order": "newest"})).json()
    rest = (
        await client.get(
            f"/v1/queues/{STREET}/cases", params={"limit": 2, "order": "newest", "before": first["next_before"]}
        )
    ).json()

    assert [c["call_id"] for c in first["cases"]] == [str(stored[2].call_id), str(stored[1].call_id)]
    assert [c["call_id"] for c in rest["cases"]] == [str(stored[0].call_id)]


async def test_a_case_is_returned_by_call_id_and_an_unknown_one_is_404(client, stored) -> None:
    found = await client.get(f"/v1/cases/{stored[0].call_id}")
    missing = await client.get(f"/v1/cases/{uuid.uuid4()}")

    assert found.status_code == 200
    case = found.json()
    assert case["status"] == "dispatched"
    assert case["month"] == "2026-04"
    assert case["assignment"]["queue_id"] == STREET
    assert case["call"]["contact"] == {"hash": "a" * 64, "masked": "138****5678"}
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        ("category", {"劳动和社会保障": 3, "城乡建设": 1}),
        ("issue", {"wage-arrears": 3}),
        ("unit", {STREET: 3, "department:市住房城乡建设委": 1}),
        ("district", {"大兴区": 3, "朝阳区": 1}),
    ],
)
async def test_monthly_counts_per_dimension(client, stored, dimension, expected) -> None:
    response = await client.get("/v1/metrics/monthly", params={"month": "2026-04", "dimension": dimension})

    assert response.status_code == 200
    body = response.json()
    assert {c["value"]: c["count"] for c in body["counts"]} == expected
    assert body["total"] == sum(expected.values())


async def test_monthly_counts_reject_a_bad_month_or_dimension(client) -> None:
    assert (await client.get("/v1/metrics/monthly", params={"month": "2026-13"})).status_code == 422
    bad_dimension = await client.get("/v1/metrics/monthly", params={"month": "2026-04", "dimension": "colour"})
    assert bad_dimension.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/v1/metrics/monthly",
        "/v1/problems/trend",
        "/v1/programme",
        "/v1/scoreboard/units",
        "/v1/scoreboard/top",
        "/v1/supervision",
    ],
)
@pytest.mark.parametrize("month", ["0000-01", "0001-12", "1999-12", "2100-01", "99999-01"])
async def test_a_month_outside_the_window_is_422_not_500(client, path: str, month: str) -> None:
    """Issue 12: month=0000-01 gave 500 on trend, programme and supervision."""
    response = await client.get(path, params={"month": month, "dimension": "category"})
    assert response.status_code == 422, response.text


async def test_health_and_readiness(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_readiness_fails_fast_when_the_database_is_unreachable() -> None:
    """Issue 12: a client waiting PyMongo's full 30 s for a server must not hold the probe that long."""
    from pymongo import AsyncMongoClient

    unreachable: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        "mongodb://127.0.0.1:1/?directConnection=true", serverSelectionTimeoutMS=30_000
    )
    app = create_app(MetricsSettings(), database=unreachable["nowhere"])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics") as client:
            started = time.monotonic()
            response = await client.get("/readyz")
            waited = time.monotonic() - started
    finally:
        await unreachable.close()
    assert response.status_code == 503
    assert waited < 10, f"/readyz took {waited:.1f}s"


async def test_the_queue_page_is_bilingual_self_contained_and_refreshes_from_the_api(client) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for label in ("队列", "Queues", "待办", "Depth", "最早等待", "Oldest waiting"):
        assert label in page
    assert 'fetch("/v1/queues", {headers: {"X-API-Key"' in page  # the reader's key, kept for the tab only
    assert "setInterval(refresh, 2000)" in page
    assert "http://" not in page and "https://" not in page  # no CDN, no external assets


async def test_the_openapi_document_names_the_hotline_concepts(client) -> None:
    spec = (await client.get("/openapi.json")).json()

    text = spec["info"]["title"] + spec["info"]["description"]
    for term in ("接诉即办", "街乡镇", "委办局"):
        assert term in text
    assert "/v1/queues/{queue_id}/cases" in spec["paths"]


async def test_the_lifespan_connects_to_the_configured_database(settings, mongo_db, stored, metrics_settings) -> None:
    key = create_key(metrics_settings.api_keys_file, "reader", (READ_ALL,))
    database = settings.mongodb.model_copy(update={"database": mongo_db.name})
    app = create_app(metrics_settings.model_copy(update={"mongodb": database}))
    async with app.router.lifespan_context(app):
        async with _client_with(app, key) as client:
            response = await client.get("/v1/queues")
    assert {q["queue_id"] for q in response.json()["queues"]} == {STREET, "department:市住房城乡建设委"}


async def test_cases_are_found_by_ids_time_status_and_classification(client, stored) -> None:
    """GET /v1/cases: what Open311's GET requests reads (newest first, at most ``limit``)."""
    ids = [str(event.call_id) for event in stored]

    async def found(**params) -> list[str]:
        response = await client.get("/v1/cases", params=params)
        assert response.status_code == 200, response.text
        return [case["call_id"] for case in response.json()["cases"]]

    assert set(await found(call_id=[ids[3], ids[0], str(uuid.uuid4())])) == {ids[0], ids[3]}
    assert await found(call_id=[ids[0], ids[2]]) == [ids[2], ids[0]]  # newest first
    in_hour = await found(received_from=APRIL.isoformat(), received_to=(APRIL + timedelta(hours=1)).isoformat())
    assert in_hour[:2] == [ids[2], ids[1]] and set(in_hour) == set(ids)  # newest first
    assert set(await found(received_from=(APRIL + timedelta(minutes=1)).isoformat())) == {ids[1], ids[2]}
    assert await found(received_to=(APRIL - timedelta(seconds=1)).isoformat()) == []
    assert set(await found(issue="wage-arrears")) == set(ids[:3])
    assert await found(category="城乡建设") == [ids[3]]
    assert set(await found(category="劳动和社会保障/劳动保障", issue="none")) == set(ids[:3])
    assert await found(category="劳动和社会保障/别的") == []
    assert set(await found(status=["dispatched", "accepted"])) == set(ids)
    assert await found(status="closed") == []
    assert len(await found(limit=2)) == 2
    assert (await client.get("/v1/cases", params={"limit": 1001})).status_code == 422


async def test_search_finds_cases_by_id_phone_hash_and_words_and_the_filters_combine(client, stored, mongo_db) -> None:
    """GET /v1/search: what the console's search box and filters read (issue 14)."""
    ids = [str(event.call_id) for event in stored]
    await mongo_db.cases.update_one({"_id": ids[2]}, {"$set": {"assignment.priority": 1}})  # urgent
    await MetricsRepository(mongo_db).rebuild()  # edited behind the store's back: its aggregates and digests

    async def found(**params: Any) -> tuple[int, list[str]]:
        response = await client.get("/v1/search", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        return body["total"], [case["call_id"] for case in body["cases"]]

    assert await found(queue_id=STREET) == (3, [ids[2], ids[0], ids[1]])  # urgent first, then oldest
    assert await found(queue_id=STREET, sort="newest") == (3, [ids[2], ids[1], ids[0]])
    assert await found(q=ids[1]) == (1, [ids[1]])
    assert (await found(contact_hash=factories.CONTACT.hash))[0] == 4
    assert (await found(contact_hash="b" * 64))[0] == 0
    assert (await found(queue_id=STREET, q="拖欠 工资"))[0] == 3
    assert (await found(queue_id=STREET, q="拖欠 燃气"))[0] == 0, "every word must be there"
    assert await found(category="城乡建设") == (1, [ids[3]])
    assert await found(district="朝阳区", q="工资") == (1, [ids[3]])
    assert await found(queue_id=STREET, priority=1) == (1, [ids[2]])
    assert (await found(queue_id=STREET, overdue="true"))[0] == 3  # received in April: long past due
    assert (await found(queue_id=STREET, overdue="false"))[0] == 0
    assert await found(queue_id=STREET, category="劳动和社会保障", priority=[2, 3], limit=1) == (2, [ids[0]])
    assert (await client.get("/v1/search", params={"sort": "random"})).status_code == 422
    # Words over the whole store: newest first, a page at a time (docs/performance.md), followed with before=.
    first = (await client.get("/v1/search", params={"q": "工资", "limit": 1})).json()
    assert first["sort"] == "newest" and first["next"] and first["looked_at"] >= 1
    rest = (await client.get("/v1/search", params={"q": "工资", "before": first["next"]})).json()
    newest_first = sorted(((e.call.received_at, str(e.call_id)) for e in stored), reverse=True)
    paged = [c["call_id"] for c in first["cases"] + rest["cases"]]
    assert paged == [call_id for _, call_id in newest_first] and rest["next"] is None
    bad = await client.get("/v1/search", params={"q": "工资", "before": "yesterday"})
    assert bad.status_code == 422 and "before" in bad.text


# ---- access: a read key, scoped to its units; contacts in free text masked ---------------------------------

LABOUR = "department:市人力资源社会保障局"  # cooperates on the street's wage cases (factories.routed)
HOUSING = "department:市住房城乡建设委"


def _client_with(app, key: str | None) -> httpx.AsyncClient:
    headers = {"X-API-Key": key} if key is not None else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics", headers=headers)


async def test_every_read_needs_a_known_key_with_a_read_scope(mongo_db, metrics_settings, stored) -> None:
    writer = create_key(metrics_settings.api_keys_file, "cti", (CALLS_WRITE, CASES_ACT), units=[STREET])
    app = create_app(metrics_settings, database=mongo_db)
    case_id = str(stored[0].call_id)
    paths = [
        f"/v1/cases/{case_id}",
        f"/v1/queues/{STREET}/cases",
        "/v1/queues",
        "/v1/cases",
        "/v1/stream",
        "/v1/search",
    ]
    for key, expected in ((None, 401), ("hl_not-a-key", 401), (writer, 403)):
        async with _client_with(app, key) as anonymous:
            for path in paths:
                response = await anonymous.get(path, params={"max_events": 1})
                assert response.status_code == expected, (key, path, response.text)
                assert "13812345678" not in response.text and "公司拖欠" not in response.text
    async with _client_with(app, None) as anonymous:
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await anonymous.get("/")).status_code == 200  # the page asks for a key


async def test_a_units_key_sees_its_queues_and_the_cases_it_leads_or_cooperates_on(
    mongo_db, metrics_settings, stored
) -> None:
    street_key = create_key(metrics_settings.api_keys_file, "street", (CASES_READ,), units=[STREET])
    labour_key = create_key(metrics_settings.api_keys_file, "labour", (CASES_READ,), units=[LABOUR])
    housing_key = create_key(metrics_settings.api_keys_file, "housing", (CASES_READ,), units=[HOUSING])
    app = create_app(metrics_settings, database=mongo_db)
    street_case, housing_case = str(stored[0].call_id), str(stored[-1].call_id)

    async with _client_with(app, street_key) as street:
        assert (await street.get(f"/v1/cases/{street_case}")).status_code == 200
        assert (await street.get(f"/v1/cases/{housing_case}")).status_code == 404  # another unit's case
        assert (await street.get(f"/v1/queues/{HOUSING}/cases")).status_code == 404
        assert (await street.get(f"/v1/queues/{STREET}/cases")).json()["cases"]
        listed = {q["queue_id"] for q in (await street.get("/v1/queues")).json()["queues"]}
        assert listed == {STREET}
        found = (await street.get("/v1/cases", params={"call_id": [street_case, housing_case]})).json()["cases"]
        assert [c["call_id"] for c in found] == [street_case]
        found = (await street.get("/v1/cases", params={"limit": 1000})).json()["cases"]
        assert housing_case not in {c["call_id"] for c in found} and street_case in {c["call_id"] for c in found}
        searched = (await street.get("/v1/search", params={"status": ["dispatched"]})).json()
        assert searched["total"] == 3 and housing_case not in {c["call_id"] for c in searched["cases"]}
        assert (await street.get("/v1/search", params={"queue_id": HOUSING})).status_code == 404
    async with _client_with(app, labour_key) as labour:
        assert (await labour.get(f"/v1/cases/{street_case}")).status_code == 200  # it cooperates on it
        assert (await labour.get(f"/v1/queues/{STREET}/cases")).status_code == 404  # but not the street's queue
    async with _client_with(app, housing_key) as housing:
        assert (await housing.get(f"/v1/cases/{housing_case}")).status_code == 200
        assert (await housing.get(f"/v1/cases/{street_case}")).status_code == 404


async def test_a_units_search_by_id_phone_or_words_neither_finds_nor_counts_another_units_cases(
    mongo_db, metrics_settings, stored
) -> None:
    """Audit of issue 12: every way into /v1/search (a call id, the citizen's phone hash, words, a district) is
    scoped by the key's units, the total too, so the count does not tell another unit's cases exist."""
    street_key = create_key(metrics_settings.api_keys_file, "street", (CASES_READ,), units=[STREET])
    app = create_app(metrics_settings, database=mongo_db)
    housing_case = str(stored[-1].call_id)
    async with _client_with(app, street_key) as street:

        async def found(**params: Any) -> tuple[int, set[str]]:
            body = (await street.get("/v1/search", params=params)).json()
            return body["total"], {case["call_id"] for case in body["cases"]}

        assert await found(q=housing_case) == (0, set())
        total, ids = await found(contact_hash=factories.CONTACT.hash)  # the same citizen called the housing dept
        assert total == 3 and housing_case not in ids
        assert await found(category="城乡建设") == (0, set())
        assert await found(district="朝阳区") == (0, set())
        assert await found(q="城乡建设", status=["dispatched", "closed"]) == (0, set())
        listed = await street.get("/v1/cases", params={"call_id": housing_case})
        assert listed.json()["cases"] == []


async def test_phone_numbers_and_emails_in_the_citizens_words_and_notes_are_masked(client, mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    event = factories.routed("api-contact", received_at=APRIL)
    event = event.model_copy(
        update={"call": event.call.model_copy(update={"body": "请回电13812345678或写信 zhang.san@example.com"})}
    )
    await repository.apply_routed([event])  # stored as an older router wrote it: plain
    await repository.apply_case_events([factories.case_step(event, "accepted", actor="t", note="已联系 13987654321")])

    for path in (f"/v1/cases/{event.call_id}", f"/v1/queues/{STREET}/cases", "/v1/cases", "/v1/search"):
        text = (await client.get(path, params={} if "queues" in path else {"call_id": str(event.call_id)})).text
        assert "13812345678" not in text and "zhang.san" not in text and "13987654321" not in text, path
    case = (await client.get(f"/v1/cases/{event.call_id}")).json()
    assert case["call"]["body"] == "请回电138****5678或写信 z***@example.com"
