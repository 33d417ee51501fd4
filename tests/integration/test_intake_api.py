"""The intake against a real broker: 202 means the event is on the topic; 503 when the broker cannot ack."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from hotline.embedded import ensure_topics, free_port, start_broker, stop_process
from services.common.mongo import hotline_database, mongo_client
from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from services.intake.submissions import content_hash
from services.metrics.case_facts import case_document
from shared import topics
from shared.api_keys import create_key
from shared.cases import StoredCall
from shared.events import CallReceived, call_id_for
from tests import factories
from tests.helpers import read_topic

pytestmark = pytest.mark.integration


@asynccontextmanager
async def running_intake(intake_settings: IntakeSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The intake app with its lifespan (publisher connected or connecting), behind an in-process client."""
    app = create_app(intake_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", timeout=60) as client:
            yield client


@pytest.fixture
async def client(intake_settings: IntakeSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_intake(intake_settings) as running:
        yield running


@pytest.fixture
def writer(intake_settings: IntakeSettings) -> dict[str, str]:
    return {"X-API-Key": create_key(intake_settings.api_keys_file, "integration-writer")}


def a_call(**overrides: Any) -> dict[str, Any]:
    call = factories.submission(
        f"CTI-{uuid.uuid4()}",
        subject="路灯不亮",
        body="小区东门外的路灯已经坏了一个星期，晚上很黑，老人出行不安全。",
        location={"district": "大兴区", "street": "西红门镇", "lat": 39.78, "lon": 116.33},
        contact_phone="+86 138-1234-5678",
        received_at="2024-03-15T23:12:00+08:00",
    )
    return {**call, **overrides}


def counted(outcome: str, reason: str) -> float:
    """``hotline_intake_calls_total`` with these labels, as intake's ``/metrics`` serves it."""
    return REGISTRY.get_sample_value("hotline_intake_calls_total", {"outcome": outcome, "reason": reason}) or 0.0


async def received_events(
    intake_settings: IntakeSettings, call_ids: set[str], *, at_least: int | None = None
) -> list[bytes]:
    """The raw CallReceived messages of ``call_ids`` on the topic, read back as a downstream system would."""
    wanted = at_least if at_least is not None else len(call_ids)
    return await read_topic(
        intake_settings.kafka.bootstrap_servers,
        topics.CALLS_RECEIVED,
        until=lambda kept: len(kept) >= wanted,
        keep=lambda value: any(cid.encode() in value for cid in call_ids),
    )


async def test_accepted_call_is_on_the_topic_with_contact_hashed_and_masked(
    client: httpx.AsyncClient, writer: dict[str, str], intake_settings: IntakeSettings
) -> None:
    call = a_call()
    response = await client.post("/v1/calls", json=call, headers=writer)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "accepted" and answer["topic"] == topics.CALLS_RECEIVED
    assert answer["call_id"] == str(call_id_for("12345-cti", call["external_id"]))

    [raw] = await received_events(intake_settings, {answer["call_id"]})
    event = CallReceived.model_validate_json(raw)
    assert str(event.call_id) == answer["call_id"] and str(event.event_id) == answer["event_id"]
    assert event.call.body == call["body"] and event.call.language == "zh"
    assert event.call.location.street == "西红门镇" and event.call.location.lat == 39.78
    assert event.call.received_at.isoformat() == "2024-03-15T15:12:00+00:00"
    assert event.call.contact is not None and event.call.contact.masked == "138****5678"
    assert len(event.call.contact.hash) == 64
    for plain in (b"13812345678", b"138-1234-5678", b"1234-5678", b"12345678"):
        assert plain not in raw


async def test_resubmitting_a_call_returns_the_same_call_id(
    client: httpx.AsyncClient, writer: dict[str, str], intake_settings: IntakeSettings
) -> None:
    call = a_call(contact_phone=None, body="Streetlight out on 5th Avenue for a week", subject=None)
    first = await client.post("/v1/calls", json=call, headers=writer)
    again = await client.post("/v1/calls", json=call, headers=writer)
    assert first.status_code == again.status_code == 202
    assert first.json()["call_id"] == again.json()["call_id"]
    assert first.json()["event_id"] == again.json()["event_id"]
    copies = await received_events(intake_settings, {first.json()["call_id"]}, at_least=2)
    events = [CallReceived.model_validate_json(raw) for raw in copies]
    assert len({e.event_id for e in events}) == 1 and events[0].call.language == "en"
    assert events[0].call.contact is None


async def test_resubmitting_with_other_content_is_a_conflict_with_the_stored_versions_hash(
    client: httpx.AsyncClient, writer: dict[str, str], intake_settings: IntakeSettings
) -> None:
    """Issue 14: the changed resubmission got 202 and the old call_id; the change was silently dropped."""
    call = a_call()
    first = await client.post("/v1/calls", json=call, headers=writer)
    assert first.status_code == 202, first.text
    [raw] = await received_events(intake_settings, {first.json()["call_id"]})
    accepted_hash = content_hash(CallReceived.model_validate_json(raw))

    changed = await client.post(
        "/v1/calls", json={**call, "body": call["body"] + "（补充：东门外第三根路灯）"}, headers=writer
    )
    assert changed.status_code == 409, changed.text
    conflict = changed.json()["detail"]
    assert conflict["call_id"] == first.json()["call_id"] and conflict["stored_hash"] == accepted_hash
    assert conflict["submitted_hash"] != accepted_hash and "external_id" in conflict["message"]
    # The same content again is still the same call (idempotent), whatever the received time says.
    assert (await client.post("/v1/calls", json=call, headers=writer)).status_code == 202

    conflicts_before = counted("rejected", "conflict")
    batch = await client.post(
        "/v1/calls/batch", json={"calls": [a_call(), {**call, "subject": "别的事"}]}, headers=writer
    )
    assert counted("rejected", "conflict") == conflicts_before + 1
    rejected = batch.json()["results"][1]
    assert (rejected["status"], rejected["stored_hash"], rejected["errors"][0]["type"]) == (
        "rejected", accepted_hash, "conflict"
    )  # fmt: skip
    assert batch.json()["results"][0]["status"] == "accepted"


async def test_a_call_whose_case_is_stored_conflicts_in_any_intake_process(
    writer: dict[str, str], intake_settings: IntakeSettings
) -> None:
    routed = factories.routed(f"stored-{uuid.uuid4().hex[:8]}", source_system="12345-cti")
    client: AsyncMongoClient = mongo_client(intake_settings.mongodb)
    try:
        await hotline_database(client, intake_settings.mongodb).cases.insert_one(case_document(routed, "Asia/Shanghai"))
    finally:
        await client.close()
    stored_hash = StoredCall.model_validate(routed.call.model_dump(mode="json")).content_hash()
    async with running_intake(intake_settings) as fresh:  # knows nothing of it but the stored case
        changed = a_call(external_id=routed.call.external_id, body="另一件事：楼上漏水")
        response = await fresh.post("/v1/calls", json=changed, headers=writer)
    assert response.status_code == 409, response.text
    assert response.json()["detail"]["stored_hash"] == stored_hash
    assert response.json()["detail"]["call_id"] == str(routed.call_id)


async def test_batch_publishes_valid_items_and_rejects_invalid_ones_with_reasons(
    client: httpx.AsyncClient, writer: dict[str, str], intake_settings: IntakeSettings
) -> None:
    valid = [a_call() for _ in range(5)]
    calls: list[Any] = [
        valid[0],
        {**a_call(), "body": "   "},
        valid[1],
        {**a_call(), "location": {"lat": 200, "lon": 0}},
        valid[2],
        {**a_call(), "received_at": "2024-03-15T10:00:00"},
        valid[3],
        valid[4],
        dict(valid[0]),
    ]
    before = counted("accepted", "accepted"), counted("rejected", "invalid")
    response = await client.post("/v1/calls/batch", json={"calls": calls}, headers=writer)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (6, 3)
    # the metric counts the batch's calls, not the request
    assert (counted("accepted", "accepted") - before[0], counted("rejected", "invalid") - before[1]) == (6, 3)
    statuses = {r["index"]: r["status"] for r in result["results"]}
    assert [i for i, s in statuses.items() if s == "rejected"] == [1, 3, 5]
    errors = {r["index"]: r["errors"][0] for r in result["results"] if r["status"] == "rejected"}
    assert errors[1]["loc"] == ["body"]
    assert errors[3]["loc"] == ["location", "lat"] and "90" in errors[3]["msg"]
    assert errors[5]["loc"] == ["received_at"] and "timezone" in errors[5]["msg"]
    duplicate = result["results"][8]
    assert duplicate["status"] == "accepted" and duplicate["duplicate_of"] == 0

    call_ids = {r["call_id"] for r in result["results"] if r["status"] == "accepted"}
    assert call_ids == {str(call_id_for("12345-cti", c["external_id"])) for c in valid}
    raws = await received_events(intake_settings, call_ids)
    assert {str(CallReceived.model_validate_json(raw).call_id) for raw in raws} == call_ids
    assert len(raws) == 5


async def test_a_full_batch_of_a_thousand_is_acknowledged(
    client: httpx.AsyncClient, writer: dict[str, str], intake_settings: IntakeSettings
) -> None:
    run = uuid.uuid4().hex
    calls = [a_call(external_id=f"{run}-{i}") for i in range(1000)]
    response = await client.post("/v1/calls/batch", json={"calls": calls}, headers=writer)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1000
    raws = await read_topic(
        intake_settings.kafka.bootstrap_servers,
        topics.CALLS_RECEIVED,
        until=lambda kept: len(kept) >= 1000,
        keep=lambda value: run.encode() in value,
    )
    assert len(raws) == 1000


async def test_unknown_and_underprivileged_keys_are_refused(
    client: httpx.AsyncClient, intake_settings: IntakeSettings
) -> None:
    reader = create_key(intake_settings.api_keys_file, "integration-reader", ["metrics:read"])
    assert (await client.post("/v1/calls", json=a_call())).status_code == 401
    unknown = await client.post("/v1/calls", json=a_call(), headers={"X-API-Key": "hl_" + "x" * 43})
    assert unknown.status_code == 401
    forbidden = await client.post("/v1/calls", json=a_call(), headers={"X-API-Key": reader})
    assert forbidden.status_code == 403


async def test_ready_when_connected_to_the_broker(client: httpx.AsyncClient) -> None:
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200


def _settings_for_broker(intake_settings: IntakeSettings, port: int, tmp_path: Path) -> IntakeSettings:
    return intake_settings.model_copy(
        update={
            "kafka": intake_settings.kafka.model_copy(
                update={"bootstrap_servers": f"127.0.0.1:{port}", "request_timeout_ms": 2000}
            ),
            "api_keys_file": tmp_path / "keys.json",
        }
    )


async def test_unreachable_broker_gives_503_with_retry_after_and_not_ready(
    tmp_path: Path, intake_settings: IntakeSettings
) -> None:
    closed = _settings_for_broker(intake_settings, free_port(), tmp_path)
    headers = {"X-API-Key": create_key(closed.api_keys_file, "w")}
    async with running_intake(closed) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"

        single = await client.post("/v1/calls", json=a_call(), headers=headers)
        assert single.status_code == 503
        assert single.headers["Retry-After"] == str(closed.retry_after_seconds)
        assert "13812345678" not in single.text

        batch = await client.post(
            "/v1/calls/batch", json={"calls": [a_call(), {"channel": "fax"}, a_call()]}, headers=headers
        )
        assert batch.status_code == 503 and batch.headers["Retry-After"] == "5"
        detail = batch.json()["detail"]
        assert detail["not_acknowledged"] == [0, 2] and detail["rejected"] == [1]

        # Invalid input is still judged without a broker.
        assert (await client.post("/v1/calls", json=a_call(body=" "), headers=headers)).status_code == 422


async def test_intake_connects_once_the_broker_comes_up_and_answers_503_once_it_is_gone(
    tmp_path: Path, intake_settings: IntakeSettings
) -> None:
    port = free_port()
    later = _settings_for_broker(intake_settings, port, tmp_path)
    headers = {"X-API-Key": create_key(later.api_keys_file, "w")}
    async with running_intake(later) as client:
        assert (await client.get("/readyz")).status_code == 503
        broker = await asyncio.to_thread(start_broker, port, tmp_path / "late-broker.log")
        try:
            deadline = time.monotonic() + 30
            while (await client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, "intake never became ready after the broker started"
                await asyncio.sleep(0.2)
            await ensure_topics(f"127.0.0.1:{port}", [topics.CALLS_RECEIVED], partitions=2, replication_factor=1)
            accepted = await client.post("/v1/calls", json=a_call(), headers=headers)
            assert accepted.status_code == 202, accepted.text
        finally:
            await asyncio.to_thread(stop_process, broker)
        lost = await client.post("/v1/calls", json=a_call(), headers=headers)
        assert lost.status_code == 503 and lost.headers["Retry-After"] == "5"
        assert (await client.get("/readyz")).status_code == 503
