"""Request validation and authentication: answered before anything reaches the broker.

The app is not started (no lifespan), so its publisher is never connected: any request that got as far
as publishing would answer 503, which these tests would notice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.api_keys import create_key
from tests import factories

VALID: dict[str, Any] = factories.submission()


@pytest.fixture
def intake(tmp_path: Path) -> tuple[TestClient, dict[str, str], dict[str, str]]:
    settings = IntakeSettings(
        home=tmp_path,
        kafka={"bootstrap_servers": "127.0.0.1:1"},
        api_keys_file=tmp_path / "keys.json",
        max_batch=3,
        max_text_chars=50,
    )
    writer = create_key(settings.api_keys_file, "writer")
    reader = create_key(settings.api_keys_file, "reader", ["metrics:read"])
    return TestClient(create_app(settings)), {"X-API-Key": writer}, {"X-API-Key": reader}


def _errors(response: Any) -> dict[tuple[str | int, ...], str]:
    assert response.status_code == 422, response.text
    return {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}


def test_missing_api_key_is_401(intake: Any) -> None:
    client, _, _ = intake
    response = client.post("/v1/calls", json=VALID)
    assert response.status_code == 401
    assert response.json()["detail"] == "X-API-Key header is missing"


def test_unknown_api_key_is_401_even_with_an_invalid_body(intake: Any) -> None:
    client, _, _ = intake
    response = client.post("/v1/calls/batch", json={"nope": 1}, headers={"X-API-Key": "hl_not-a-key"})
    assert response.status_code == 401
    assert response.json()["detail"] == "X-API-Key is not a known key"


def test_key_without_calls_write_scope_is_403(intake: Any) -> None:
    client, _, reader = intake
    for path, body in (("/v1/calls", VALID), ("/v1/calls/batch", {"calls": [VALID]})):
        response = client.post(path, json=body, headers=reader)
        assert response.status_code == 403
        assert "calls:write" in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "loc", "message"),
    [
        ({"body": "   \n\t"}, ("body", "body"), "body must contain text, not only whitespace"),
        ({"body": ""}, ("body", "body"), "body must contain text"),
        ({"channel": "fax"}, ("body", "channel"), "Input should be 'phone', 'web', 'app'"),
        ({"location": {"lat": 91, "lon": 116.4}}, ("body", "location", "lat"), "less than or equal to 90"),
        ({"location": {"lat": 39.9, "lon": -181}}, ("body", "location", "lon"), "greater than or equal to -180"),
        ({"location": {"lat": 39.9}}, ("body", "location"), "lat and lon must be given together: lon is missing"),
        ({"received_at": "2024-03-15T23:12:00"}, ("body", "received_at"), "timezone"),
        ({"urgency": "high"}, ("body", "urgency"), "Extra inputs are not permitted"),
        ({"location": {"floor": 3}}, ("body", "location", "floor"), "Extra inputs are not permitted"),
        ({"language": "fr"}, ("body", "language"), "Input should be 'zh' or 'en'"),
        ({"external_id": "  "}, ("body", "external_id"), "external_id must not be empty or only whitespace"),
        ({"source_system": "a\x1fb"}, ("body", "source_system"), "must not contain control characters"),
        ({"contact_phone": "call me"}, ("body", "contact_phone"), "contact_phone must be 5 to 15 digits"),
    ],
)
def test_invalid_call_is_422_naming_the_field_and_the_problem(
    intake: Any, change: dict[str, Any], loc: tuple[str, ...], message: str
) -> None:
    client, writer, _ = intake
    errors = _errors(client.post("/v1/calls", json={**VALID, **change}, headers=writer))
    assert loc in errors, errors
    assert message in errors[loc]


def test_text_over_the_limit_is_422_with_the_counts(intake: Any) -> None:
    client, writer, _ = intake
    errors = _errors(client.post("/v1/calls", json={**VALID, "subject": "噪" * 20, "body": "音" * 31}, headers=writer))
    assert errors[("body",)] == "subject and body together are 51 characters; at most 50 are accepted"


def test_validation_errors_never_echo_the_phone_number(intake: Any) -> None:
    client, writer, _ = intake
    response = client.post("/v1/calls", json={**VALID, "body": " ", "contact_phone": "13812345678"}, headers=writer)
    assert response.status_code == 422
    assert "13812345678" not in response.text
    bad_phone = client.post("/v1/calls", json={**VALID, "contact_phone": "138123456789999999"}, headers=writer)
    assert bad_phone.status_code == 422 and "138123456789999999" not in bad_phone.text


def test_batch_over_the_limit_is_413(intake: Any) -> None:
    client, writer, _ = intake
    response = client.post("/v1/calls/batch", json={"calls": [VALID] * 4}, headers=writer)
    assert response.status_code == 413
    assert response.json()["detail"] == "body.calls has 4 items; at most 3 are accepted per batch"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"calls": []}, ("body", "calls")),
        ({"calls": [VALID], "priority": 1}, ("body", "priority")),
        ([VALID], ("body",)),
    ],
)
def test_malformed_batch_envelope_is_422(intake: Any, body: Any, loc: tuple[str, ...]) -> None:
    client, writer, _ = intake
    assert loc in _errors(client.post("/v1/calls/batch", json=body, headers=writer))


def test_batch_that_is_not_json_is_422(intake: Any) -> None:
    client, writer, _ = intake
    response = client.post(
        "/v1/calls/batch", content=b"{calls:", headers={**writer, "content-type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "json_invalid"


def test_batch_of_only_invalid_items_rejects_each_with_its_reasons(intake: Any) -> None:
    client, writer, _ = intake
    calls = [{**VALID, "body": " "}, {**VALID, "channel": "fax", "extra": 1}, "not an object"]
    response = client.post("/v1/calls/batch", json={"calls": calls}, headers=writer)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 0 and result["rejected"] == 3
    by_index = {r["index"]: r for r in result["results"]}
    assert {r["status"] for r in by_index.values()} == {"rejected"}
    assert by_index[0]["errors"] == [
        {"loc": ["body"], "msg": "body must contain text, not only whitespace", "type": "blank"}
    ]
    assert {tuple(e["loc"]) for e in by_index[1]["errors"]} == {("channel",), ("extra",)}
    assert by_index[2]["errors"][0]["type"] == "model_type"


def test_a_batch_counts_each_of_its_calls_in_the_metrics(intake: Any) -> None:
    """hotline_intake_calls_total counts calls: a 200 batch of three invalid calls is three rejections, not one
    accepted request; a batch refused whole (413) counts once."""
    client, writer, _ = intake

    def counted(outcome: str, reason: str) -> float:
        return REGISTRY.get_sample_value("hotline_intake_calls_total", {"outcome": outcome, "reason": reason}) or 0.0

    before = {
        key: counted(*key) for key in (("accepted", "accepted"), ("rejected", "invalid"), ("rejected", "too_large"))
    }
    calls = [{**VALID, "body": " "}, {**VALID, "channel": "fax"}, "not an object"]
    assert client.post("/v1/calls/batch", json={"calls": calls}, headers=writer).status_code == 200
    assert client.post("/v1/calls/batch", json={"calls": [VALID] * 4}, headers=writer).status_code == 413
    moved = {key: counted(*key) - value for key, value in before.items()}
    assert moved == {("accepted", "accepted"): 0, ("rejected", "invalid"): 3, ("rejected", "too_large"): 1}


def test_healthz_answers_without_a_broker_and_readyz_does_not(intake: Any) -> None:
    client, _, _ = intake
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"


def test_openapi_documents_the_hotline_topics_and_both_languages(intake: Any) -> None:
    client, _, _ = intake
    spec = client.get("/openapi.json").json()
    assert "接诉即办" in spec["info"]["title"] + spec["info"]["description"]
    assert "hotline.calls.received.v1" in spec["info"]["description"]
    batch_body = spec["paths"]["/v1/calls/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch_body == {"$ref": "#/components/schemas/CallBatch"}
    assert spec["components"]["schemas"]["CallBatch"]["properties"]["calls"]["items"]["$ref"].endswith(
        "/CallSubmission"
    )
    examples = spec["paths"]["/v1/calls"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert {"zh", "en"} <= set(examples)
    submission = spec["components"]["schemas"]["CallSubmission"]["properties"]
    assert all(prop.get("description") for prop in submission.values())
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert client.get("/docs").status_code == 200


def test_without_a_broker_every_publishing_route_refuses_with_retry_after(intake: Any) -> None:
    """The one publish-or-refuse step: nothing is promised, each route says so in its own format."""
    client, writer, _ = intake
    single = client.post("/v1/calls", json=VALID, headers=writer)
    assert single.status_code == 503 and single.headers["Retry-After"] == "5"
    assert single.json()["detail"].startswith("call not accepted, retry: not connected to the broker")
    batch = client.post("/v1/calls/batch", json={"calls": [VALID, {"channel": "fax"}]}, headers=writer)
    assert batch.status_code == 503 and batch.headers["Retry-After"] == "5"
    assert (batch.json()["detail"]["not_acknowledged"], batch.json()["detail"]["rejected"]) == ([0], [1])
    form = {
        "api_key": writer["X-API-Key"],
        "service_code": "01-02",
        "description": "小区垃圾桶满了三天没人清运",
        "lat": "39.99",
        "long": "116.47",
    }
    open311 = client.post("/open311/v2/requests.json", data=form)
    assert open311.status_code == 400 and open311.headers["Retry-After"] == "5"
    assert "not accepted" in open311.json()[0]["description"]


@pytest.fixture
def limited(tmp_path: Path) -> tuple[TestClient, dict[str, str]]:
    settings = IntakeSettings(
        home=tmp_path,
        kafka={"bootstrap_servers": "127.0.0.1:1"},
        api_keys_file=tmp_path / "keys.json",
        max_request_bytes=4096,
        received_at_earliest="2020-01-01T00:00:00Z",
        clock_skew_seconds=60,
    )
    return TestClient(create_app(settings)), {"X-API-Key": create_key(settings.api_keys_file, "writer")}


def test_a_body_over_max_request_bytes_is_413_before_it_is_parsed(limited: Any) -> None:
    client, writer = limited
    oversized = b"{" + b" " * 10_000  # not even JSON: it is refused on its length, never parsed
    for path in ("/v1/calls", "/v1/calls/batch"):
        response = client.post(path, content=oversized, headers={**writer, "content-type": "application/json"})
        assert response.status_code == 413, response.text
        assert "at most 4096" in response.json()["detail"]

    def streamed() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    response = client.post("/v1/calls", content=streamed(), headers={**writer, "content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_json_is_415(limited: Any, content_type: str) -> None:
    client, writer = limited
    for path in ("/v1/calls", "/v1/calls/batch"):
        response = client.post(path, content=b'{"calls": []}', headers={**writer, "content-type": content_type})
        assert response.status_code == 415, response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("body", "路灯坏了\x00"), ("subject", "a\x07b"), ("body", "x\x1b[31m"), ("location", {"address": "1\x00号楼"})],
)
def test_nul_and_control_characters_in_text_are_422(limited: Any, field: str, value: Any) -> None:
    client, writer = limited
    errors = _errors(client.post("/v1/calls", json={**VALID, field: value}, headers=writer))
    assert any("control characters" in msg for msg in errors.values()), errors


@pytest.mark.parametrize(
    ("received_at", "kind"),
    [
        ("0001-01-01T00:00:00+14:00", "must lie between 2000-01-01 and 2100-01-01"),
        ("9999-12-31T23:59:59-14:00", "must lie between 2000-01-01 and 2100-01-01"),
        ("1900-01-01T00:00:00Z", "must lie between"),
        ("2019-12-31T23:59:59Z", "the earliest accepted"),
        ("2099-01-01T00:00:00Z", "is in the future"),
    ],
)
def test_a_received_at_outside_the_window_is_422(limited: Any, received_at: str, kind: str) -> None:
    client, writer = limited
    single = _errors(client.post("/v1/calls", json={**VALID, "received_at": received_at}, headers=writer))
    assert any(kind in msg for msg in single.values()), single
    batch = client.post("/v1/calls/batch", json={"calls": [{**VALID, "received_at": received_at}]}, headers=writer)
    assert batch.status_code == 200 and batch.json()["rejected"] == 1
    assert kind in batch.json()["results"][0]["errors"][0]["msg"]


def test_every_4xx_a_body_route_answers_is_in_the_openapi_document(limited: Any) -> None:
    client, _ = limited
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/calls", "/v1/calls/batch"):
        assert {"401", "403", "413", "415", "422", "503"} <= set(paths[path]["post"]["responses"]), path
    assert "404" in paths["/v1/cases/{call_id}/steps"]["get"]["responses"]
    assert {"400", "403", "404", "413"} <= set(paths["/open311/v2/requests.{fmt}"]["post"]["responses"])


@pytest.fixture
def bound(intake: Any, tmp_path: Path) -> tuple[TestClient, dict[str, str]]:
    """Intake with a key bound to the source_system ``cti-a`` (as ``hotline keys --source-system cti-a``)."""
    client, _, _ = intake
    return client, {"X-API-Key": create_key(tmp_path / "keys.json", "cti-a", source_systems=["cti-a"])}


def test_a_key_bound_to_a_source_system_cannot_submit_under_another_one(bound: Any) -> None:
    """Resubmission is keyed by (source_system, external_id): a key that could name another system's source would
    learn from the 409 which ids it used, or squat them. Refused before any lookup; its own name goes on (to the
    absent broker here: 503)."""
    client, key = bound
    foreign = client.post("/v1/calls", json={**VALID, "source_system": "cti-b"}, headers=key)
    assert foreign.status_code == 403, foreign.text
    assert foreign.json()["detail"] == "API key 'cti-a' submits calls only for source_system cti-a, not 'cti-b'"
    own = client.post("/v1/calls", json={**VALID, "source_system": "cti-a"}, headers=key)
    assert own.status_code == 503, own.text


def test_a_batch_rejects_the_items_under_a_source_system_the_key_is_not_bound_to(bound: Any) -> None:
    client, key = bound
    calls = [{**VALID, "source_system": "cti-b", "external_id": "x-1"}, {**VALID, "source_system": "cti-b"}]
    response = client.post("/v1/calls/batch", json={"calls": calls}, headers=key)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 0 and result["rejected"] == 2
    assert {(tuple(e["loc"]), e["type"]) for r in result["results"] for e in r["errors"]} == {
        (("source_system",), "forbidden")
    }
