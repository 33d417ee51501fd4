"""Case steps through intake against the real broker and database: 202 means the CaseEvent is on the topic."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared import topics
from shared.api_keys import CALLS_WRITE, CASES_ACT, SUPERVISOR, create_key
from shared.events import CaseEvent, CaseEventKind
from tests.helpers import read_topic

pytestmark = pytest.mark.integration

STREET = "street:大兴区/西红门镇"
DEPARTMENT = "department:市城市管理委员会"


@pytest.fixture
async def client(intake_settings: IntakeSettings, mongo_db: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(intake_settings, database=mongo_db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", timeout=60) as running:
            yield running


def key_headers(intake_settings: IntakeSettings, name: str, scopes: list[str], units: list[str] = ()) -> dict[str, str]:  # type: ignore[assignment]
    return {"X-API-Key": create_key(intake_settings.api_keys_file, f"{name}-{uuid.uuid4().hex[:6]}", scopes, units)}


@pytest.fixture
def street(intake_settings: IntakeSettings) -> dict[str, str]:
    return key_headers(intake_settings, "xihongmen", [CASES_ACT], [STREET])


@pytest.fixture
def department(intake_settings: IntakeSettings) -> dict[str, str]:
    return key_headers(intake_settings, "city-management", [CASES_ACT], [DEPARTMENT])


@pytest.fixture
def supervisor(intake_settings: IntakeSettings) -> dict[str, str]:
    return key_headers(intake_settings, "supervisor", [SUPERVISOR])


async def stored_case(mongo_db: Any, status: str = "dispatched") -> str:
    """A case document as the metrics service stores it; its call id."""
    call_id = str(uuid.uuid4())
    await mongo_db["cases"].insert_one(
        {
            "_id": call_id,
            "status": status,
            "queue_id": STREET,
            "assignment": {
                "queue_id": STREET,
                "unit_kind": "street",
                "unit_name": "大兴区西红门镇",
                "district": "大兴区",
                "street": "西红门镇",
                "cooperating_units": [DEPARTMENT],
                "rule_id": "pollution-street",
                "attempt": 1,
            },
            "classification": {"category": "环境保护", "subcategory": "环境污染"},
            "call": {"channel": "phone", "body": "楼下饭店油烟太大", "location": {"address": "大兴区西红门镇"}},
            "received_at": datetime.now(UTC),
            "district": "大兴区",
        }
    )
    return call_id


async def events_of(intake_settings: IntakeSettings, call_id: str, count: int) -> list[CaseEvent]:
    values = await read_topic(
        intake_settings.kafka.bootstrap_servers,
        topics.CASES_EVENTS,
        until=lambda kept: len(kept) >= count,
        keep=lambda value: json.loads(value).get("call_id") == call_id,
    )
    return [CaseEvent.model_validate_json(v) for v in values]


async def test_the_lead_unit_accepts_and_the_event_is_on_the_topic_keyed_by_call(
    client: httpx.AsyncClient, street: dict[str, str], intake_settings: IntakeSettings, mongo_db: Any
) -> None:
    call_id = await stored_case(mongo_db)
    response = await client.post(f"/v1/cases/{call_id}/events", json={"kind": "accepted"}, headers=street)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["status_before"], answer["status_after"]) == ("dispatched", "accepted")
    [event] = await events_of(intake_settings, call_id, 1)
    assert str(event.event_id) == answer["event_id"]
    assert event.kind is CaseEventKind.accepted
    assert event.actor.startswith("xihongmen") and event.actor_queue == STREET


async def test_the_lead_unit_names_the_cases_handler_and_must_give_a_name(
    client: httpx.AsyncClient,
    street: dict[str, str],
    department: dict[str, str],
    intake_settings: IntakeSettings,
    mongo_db: Any,
) -> None:
    call_id = await stored_case(mongo_db, "accepted")
    path = f"/v1/cases/{call_id}/events"
    blank = await client.post(path, json={"kind": "assigned", "assignee": "  "}, headers=street)
    assert blank.status_code == 422 and "assignee" in blank.text
    cooperating = await client.post(path, json={"kind": "assigned", "assignee": "wang"}, headers=department)
    assert cooperating.status_code == 403 and "lead unit" in cooperating.text
    response = await client.post(path, json={"kind": "assigned", "assignee": "wang"}, headers=street)
    assert response.status_code == 202, response.text
    assert (response.json()["status_before"], response.json()["status_after"]) == ("accepted", "accepted")
    [event] = await events_of(intake_settings, call_id, 1)
    assert (event.kind, event.assignee, event.actor_queue) == (CaseEventKind.assigned, "wang", STREET)


async def test_once_the_console_has_users_of_the_unit_only_they_may_be_named_and_a_handler_can_be_taken_back(
    client: httpx.AsyncClient, street: dict[str, str], intake_settings: IntakeSettings, mongo_db: Any
) -> None:
    # The console's users of the street, as intake knows them: their intake keys console:NAME.
    create_key(intake_settings.api_keys_file, "console:li.na", (CASES_ACT,), (STREET,))
    create_key(intake_settings.api_keys_file, "console:zhao", (CASES_ACT,), ("department:市民政局",))
    call_id = await stored_case(mongo_db, "accepted")
    path = f"/v1/cases/{call_id}/events"
    stranger = await client.post(path, json={"kind": "assigned", "assignee": "zhao"}, headers=street)
    assert stranger.status_code == 422 and "not an operator of" in stranger.text and "li.na" in stranger.text
    named = await client.post(path, json={"kind": "assigned", "assignee": "li.na"}, headers=street)
    assert named.status_code == 202, named.text
    nobody = await client.post(path, json={"kind": "unassigned"}, headers=street)
    assert nobody.status_code == 409 and "none is assigned" in nobody.text  # the stored case has no handler yet
    await mongo_db.cases.update_one({"_id": call_id}, {"$set": {"assignee": "li.na"}})  # as the writer stores it
    back = await client.post(path, json={"kind": "unassigned"}, headers=street)
    assert back.status_code == 202, back.text
    events = await events_of(intake_settings, call_id, 2)
    assert [e.kind for e in events] == [CaseEventKind.assigned, CaseEventKind.unassigned]


async def test_the_same_idempotency_key_gives_the_same_event_id(
    client: httpx.AsyncClient, street: dict[str, str], mongo_db: Any
) -> None:
    call_id = await stored_case(mongo_db)
    headers = {**street, "Idempotency-Key": "retry-1"}
    first = await client.post(f"/v1/cases/{call_id}/events", json={"kind": "accepted"}, headers=headers)
    again = await client.post(f"/v1/cases/{call_id}/events", json={"kind": "accepted"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["event_id"] == again.json()["event_id"]


async def test_an_unknown_case_is_404_with_a_retry_hint(client: httpx.AsyncClient, street: dict[str, str]) -> None:
    response = await client.post(f"/v1/cases/{uuid.uuid4()}/events", json={"kind": "accepted"}, headers=street)
    assert response.status_code == 404
    assert "retry" in response.json()["detail"]


async def test_an_illegal_step_is_409_with_the_reason(
    client: httpx.AsyncClient, street: dict[str, str], mongo_db: Any
) -> None:
    call_id = await stored_case(mongo_db, "dispatched")
    response = await client.post(f"/v1/cases/{call_id}/events", json={"kind": "resolved"}, headers=street)
    assert response.status_code == 409
    assert response.json()["detail"] == "'resolved' is not allowed when the case is 'dispatched' (only when: responded)"


async def test_a_cooperating_unit_and_a_calls_key_are_403(
    client: httpx.AsyncClient, department: dict[str, str], intake_settings: IntakeSettings, mongo_db: Any
) -> None:
    call_id = await stored_case(mongo_db, "accepted")
    url = f"/v1/cases/{call_id}/events"
    cooperating = await client.post(url, json={"kind": "responded"}, headers=department)
    assert cooperating.status_code == 403 and STREET in cooperating.json()["detail"]
    writer = key_headers(intake_settings, "cti", [CALLS_WRITE])
    assert (await client.post(url, json={"kind": "responded"}, headers=writer)).status_code == 403


def as_unknown(response: httpx.Response, call_id: str) -> tuple[int, str]:
    """The answer with the case's id taken out: equal for two cases means the caller cannot tell them apart."""
    return response.status_code, response.text.replace(call_id, "<call_id>")


@pytest.mark.parametrize("kind", ["responded", "accepted", "whistle", "closed"])
async def test_a_step_on_another_units_case_is_the_same_404_as_an_unknown_case(
    client: httpx.AsyncClient, intake_settings: IntakeSettings, mongo_db: Any, kind: str
) -> None:
    """issue 12: the 403 named the queue holding the case, telling another unit that it exists and where."""
    call_id = await stored_case(mongo_db, "accepted")
    other = key_headers(intake_settings, "wangjing", [CASES_ACT], ["street:朝阳区/望京街道"])
    body: dict[str, Any] = {"kind": kind}
    if kind == "whistle":
        body["departments"] = [DEPARTMENT]
    refused = await client.post(f"/v1/cases/{call_id}/events", json=body, headers=other)
    unknown_id = str(uuid.uuid4())
    unknown = await client.post(f"/v1/cases/{unknown_id}/events", json=body, headers=other)
    assert unknown.status_code == 404
    assert as_unknown(refused, call_id) == as_unknown(unknown, unknown_id)
    assert STREET not in refused.text and "accepted" not in refused.text


async def test_a_unit_may_not_close_but_a_supervisor_may(
    client: httpx.AsyncClient, street: dict[str, str], supervisor: dict[str, str], mongo_db: Any
) -> None:
    call_id = await stored_case(mongo_db, "resolved")
    url = f"/v1/cases/{call_id}/events"
    assert (await client.post(url, json={"kind": "closed"}, headers=street)).status_code == 403
    assert (await client.post(url, json={"kind": "closed"}, headers=supervisor)).status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "whistle"}, "departments"),
        ({"kind": "whistle", "departments": ["department:市不存在局"]}, "departments"),
        ({"kind": "callback"}, "callback_result"),
        ({"kind": "reclassified", "classification": {"category": "住房"}}, "classification"),
        ({"kind": "returned"}, "note"),
        ({"kind": "flew-away"}, "kind"),
    ],
)
async def test_a_step_lacking_what_it_needs_is_422(
    client: httpx.AsyncClient, supervisor: dict[str, str], mongo_db: Any, body: dict[str, Any], field: str
) -> None:
    call_id = await stored_case(mongo_db, "accepted")
    response = await client.post(f"/v1/cases/{call_id}/events", json=body, headers=supervisor)
    assert response.status_code == 422, response.text
    assert any(error["loc"][-1] == field for error in response.json()["detail"])


async def test_a_whistle_with_two_departments_is_published_with_them(
    client: httpx.AsyncClient, street: dict[str, str], intake_settings: IntakeSettings, mongo_db: Any
) -> None:
    call_id = await stored_case(mongo_db, "accepted")
    departments = [DEPARTMENT, "department:市生态环境局"]
    response = await client.post(
        f"/v1/cases/{call_id}/events", json={"kind": "whistle", "departments": departments}, headers=street
    )
    assert response.status_code == 202, response.text
    [event] = await events_of(intake_settings, call_id, 1)
    assert event.kind is CaseEventKind.whistle and event.departments == departments


async def test_steps_lists_what_this_key_may_do_now(
    client: httpx.AsyncClient, street: dict[str, str], department: dict[str, str], mongo_db: Any
) -> None:
    call_id = await stored_case(mongo_db, "accepted")
    lead = (await client.get(f"/v1/cases/{call_id}/steps", headers=street)).json()
    assert lead["role"] == "lead" and lead["steps"] == ["responded", "returned", "whistle", "assigned"]
    cooperating = (await client.get(f"/v1/cases/{call_id}/steps", headers=department)).json()
    assert cooperating["role"] == "cooperating" and cooperating["steps"] == []


async def test_steps_of_another_units_case_are_not_shown(
    client: httpx.AsyncClient, intake_settings: IntakeSettings, supervisor: dict[str, str], mongo_db: Any
) -> None:
    call_id = await stored_case(mongo_db, "accepted")
    elsewhere = key_headers(intake_settings, "elsewhere", [CASES_ACT], ["street:朝阳区/望京街道"])
    response = await client.get(f"/v1/cases/{call_id}/steps", headers=elsewhere)
    assert response.status_code == 404, response.text
    assert "accepted" not in response.text and STREET not in response.text
    unknown_id = str(uuid.uuid4())
    unknown = await client.get(f"/v1/cases/{unknown_id}/steps", headers=elsewhere)
    assert as_unknown(response, call_id) == as_unknown(unknown, unknown_id)  # as for a case that does not exist
    assert (await client.get(f"/v1/cases/{call_id}/steps", headers=supervisor)).json()["role"] == "supervisor"


async def test_readiness_is_the_brokers_alone(client: httpx.AsyncClient) -> None:
    """Issue 12: intake's /readyz says what docs/operations.md says, the broker answers; not the database."""
    response = await client.get("/readyz")
    assert response.status_code == 200 and "database" not in response.json()
