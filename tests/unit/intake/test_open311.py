"""Open311 mapping, rendering and form checks (pure functions of services/intake/open311)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.intake.app import create_app
from services.intake.open311 import formats
from services.intake.open311.formats import Open311Error
from services.intake.open311.mapping import (
    CLOSED_STATUSES,
    load_divisions,
    load_taxonomy,
    open311_status,
    request_view,
    service_catalogue,
)
from services.intake.open311.routes import attribute_problems, date_range, external_id_of, location_from
from services.intake.settings import IntakeSettings
from shared.lifecycle import OPEN_STATUSES, CaseStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_every_lifecycle_status_maps_to_open_or_closed() -> None:
    assert {open311_status(s) for s in OPEN_STATUSES} == {"open"}
    assert {open311_status(s) for s in CLOSED_STATUSES} == {"closed"}
    assert set(OPEN_STATUSES) | set(CLOSED_STATUSES) == set(CaseStatus)


def test_service_codes_cover_levels_one_and_two_and_the_monthly_questions() -> None:
    catalogue = service_catalogue()
    tree = load_taxonomy()
    level1 = [s for s in catalogue.services if "-" not in s.code]
    level2 = [s for s in catalogue.services if s.code[:2].isdigit() and "-" in s.code]
    problems = [s for s in catalogue.services if s.code.startswith("mq-")]
    assert [s.category for s in level1] == list(tree)
    assert len(level2) == sum(len(branch) for branch in tree.values()) and len(problems) == 9
    assert len({s.code for s in catalogue.services}) == len(catalogue.services)
    wages = catalogue.get(catalogue.code_for("劳动和社会保障", "工资福利", None) or "")
    assert wages is not None and wages.name == "工资福利"
    assert [v for v, _ in wages.attributes[0].values] == tree["劳动和社会保障"]["工资福利"]
    assert catalogue.code_for("劳动和社会保障", "工资福利", "wage-arrears") == "mq-wage-arrears"
    assert catalogue.code_for("劳动和社会保障", "不是二级分类", None) == catalogue.code_for(
        "劳动和社会保障", None, None
    )


def a_case(**overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "call_id": "6a1c6f0e-0000-4000-8000-000000000001",
        "status": "closed",
        "received_at": "2026-11-01T02:00:00Z",
        "routed_at": "2026-11-01T02:00:01Z",
        "call": {
            "body": "路灯坏了",
            "location": {"address": "望京西园三区", "lat": 39.99, "lon": 116.47},
            "contact": {"hash": "abc", "masked": "138****5678"},
            "media_url": None,
        },
        "classification": {"category": "城乡建设", "subcategory": "城市建设和市政管理", "issue": None},
        "assignment": {
            "unit_name": "朝阳区望京街道",
            "district": "朝阳区",
            "street": "望京街道",
            "resolution_due_at": "2026-11-08T02:00:00+00:00",
        },
        "history": [
            {"kind": "accepted", "at": "2026-11-01T03:00:00Z", "outcome": "applied"},
            {"kind": "resolved", "at": "2026-11-02T03:00:00Z", "outcome": "applied", "note": "已修好"},
            {"kind": "accepted", "at": "2026-11-03T03:00:00Z", "outcome": "rejected"},
            {"kind": "closed", "at": "2026-11-02T05:00:00+00:00", "outcome": "applied"},
        ],
    }
    case.update(overrides)
    return case


def test_a_case_reads_as_an_open311_request_without_the_contact() -> None:
    view = request_view(a_case(), service_catalogue())
    assert view["status"] == "closed" and view["status_notes"] == "已结案 · Closed. 办理结果 result: 已修好"
    assert view["agency_responsible"] == "朝阳区望京街道" and view["service_name"] == "城市建设和市政管理"
    assert view["updated_datetime"] == "2026-11-02T05:00:00Z"  # the last applied step, not the rejected one
    assert view["expected_datetime"] == "2026-11-08T02:00:00Z"
    assert view["address_id"] == load_divisions()[1][("朝阳区", "望京街道")]
    assert "138****5678" not in json.dumps(view, ensure_ascii=False)
    linked = request_view(a_case(status="linked", linked_to="other-id", history=[]), service_catalogue())
    assert linked["status"] == "closed" and linked["status_notes"].endswith("other-id")


def test_xml_is_well_formed_utf8_with_chinese_intact() -> None:
    view = request_view(a_case(), service_catalogue())
    body = formats.xml_document("service_requests", "request", [view, {**view, "status_notes": "<&>"}])
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(body)
    first, second = root.findall("request")
    assert first.findtext("status_notes") == view["status_notes"] and second.findtext("status_notes") == "<&>"
    assert first.find("zipcode") is not None and first.findtext("zipcode") == ""
    assert "已结案".encode() in body


def test_errors_render_as_the_standard_has_them() -> None:
    error = Open311Error(400, "one", "two")
    as_json = formats.error_response("json", error)
    assert as_json.status_code == 400 and json.loads(bytes(as_json.body)) == [
        {"code": 400, "description": "one"},
        {"code": 400, "description": "two"},
    ]
    as_xml = ET.fromstring(bytes(formats.error_response("xml", error).body))
    assert as_xml.tag == "errors" and [e.findtext("description") for e in as_xml.findall("error")] == ["one", "two"]


def test_date_range_defaults_and_limits() -> None:
    assert date_range(None, None, NOW) == (NOW - timedelta(days=90), NOW)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert date_range("2026-01-01T00:00:00Z", None, NOW) == (start, start + timedelta(days=90))
    assert date_range(None, "2026-01-01T08:00:00+08:00", NOW)[1] == start
    bad: list[tuple[str | None, str | None]] = [
        ("2026-01-01", None),
        ("2026-01-01T00:00:00", None),
        (None, "yesterday"),
    ]
    for start_text, end_text in bad:
        with pytest.raises(Open311Error):
            date_range(start_text, end_text, NOW)


def test_location_and_attributes_are_checked() -> None:
    code = load_divisions()[1][("大兴区", "西红门镇")]
    assert location_from({"address_id": [code]}).street == "西红门镇"
    with pytest.raises(Open311Error, match="a location is required"):
        location_from({"address_string": ["  "]})
    arrears = service_catalogue().get("mq-wage-arrears")
    assert arrears is not None
    assert attribute_problems(arrears, {"employer": ["某公司"], "evidence": ["contract", "none"]}) == []
    problems = attribute_problems(arrears, {"amount_owed": ["很多"], "evidence": ["photo"], "colour": ["red"]})
    assert len(problems) == 4  # unknown attribute, employer required, not a number, not among the values


def test_the_same_form_is_the_same_request() -> None:
    form = {"api_key": ["a"], "service_code": ["01"], "description": ["x"]}
    assert external_id_of(form) == external_id_of({**form, "api_key": ["another key"]})
    assert external_id_of(form) != external_id_of({**form, "description": ["y"]})


def test_a_field_with_nul_or_control_characters_is_400() -> None:
    """Not only the description: every field the hotline keeps or echoes (address_string, account_id,
    attribute answers, media_url) would otherwise reach an XML answer, where such characters are not allowed."""
    from services.intake.open311.routes import build_event
    from shared.api_keys import KeyRecord

    key = KeyRecord(name="t", salt="y", hash="x", scopes=("calls:write",), created_at="2026-01-01T00:00:00Z")
    form = {
        "service_code": ["mq-wage-arrears"],
        "address_string": ["大兴区西红门镇"],
        "attribute[employer]": ["某公司"],
    }
    build_event(form, key, service_catalogue(), IntakeSettings())  # the clean form is accepted
    for name, value in (
        ("description", "欠薪\x00"),
        ("address_string", "大兴区\x01西红门镇"),
        ("account_id", "acct\x0b"),
        ("attribute[employer]", "某\x1f公司"),
        ("media_url", "https://photos.example.com/\x7f.jpg"),
    ):
        with pytest.raises(Open311Error, match=f"{re.escape(name)} must not contain NUL or control characters"):
            build_event({**form, name: [value]}, key, service_catalogue(), IntakeSettings())
    build_event({**form, "description": ["第一行\n第二行\t完"]}, key, service_catalogue(), IntakeSettings())


def test_xml_answers_stay_well_formed_whatever_the_stored_text_holds() -> None:
    """Characters XML 1.0 does not allow (a case stored before the form checks, a unit's text) become U+FFFD."""
    body = formats.xml_document(
        "errors", "error", [{"code": 400, "description": "attribute[\x01] is not an attribute"}]
    )
    assert ET.fromstring(body).findtext("error/description") == "attribute[\ufffd] is not an attribute"
    view = request_view(
        a_case(call={"body": "路灯\x0b坏了", "location": {"address": "望京\x00西园"}}), service_catalogue()
    )
    request = ET.fromstring(formats.xml_document("service_requests", "request", [view])).find("request")
    assert request is not None and request.findtext("address") == "望京\ufffd西园"
    assert request.findtext("description") == "路灯\ufffd坏了"


def test_get_requests_asks_the_case_store_for_the_standards_window_and_limit(tmp_path: Path) -> None:
    """GET requests.{fmt} without dates asks the metrics read API for the most recent 90 days and at most
    1,000 cases; status, service codes and ids become the store's filters; a store that does not answer is
    the standard's 400 with Retry-After (the store is an httpx mock: nothing else runs)."""
    asked: list[httpx.Request] = []
    down = False

    def store(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if down:
            return httpx.Response(503)
        return httpx.Response(200, json={"cases": [a_case()]})

    app = create_app(IntakeSettings(home=tmp_path, kafka={"bootstrap_servers": "127.0.0.1:1"}))
    app.state.open311_metrics = httpx.AsyncClient(transport=httpx.MockTransport(store), base_url="http://metrics")
    client = TestClient(app)

    before = datetime.now(UTC)
    answer = client.get("/open311/v2/requests.json")
    assert answer.status_code == 200 and [r["status"] for r in answer.json()] == ["closed"]
    params = asked[-1].url.params
    assert asked[-1].url.path == "/v1/cases" and params["limit"] == "1000"
    start, end = datetime.fromisoformat(params["received_from"]), datetime.fromisoformat(params["received_to"])
    assert end - start == timedelta(days=90) and before <= end <= datetime.now(UTC)
    assert not {"status", "category", "issue", "call_id"} & set(params.keys())
    assert ET.fromstring(client.get("/open311/v2/requests.xml").content).findtext("request/status") == "closed"

    client.get("/open311/v2/requests.json", params={"status": "open", "service_code": "01-02,mq-wage-arrears"})
    params = asked[-1].url.params
    assert sorted(params.get_list("status")) == sorted(str(s) for s in OPEN_STATUSES)
    assert params.get_list("category") == ["城乡建设/城市建设和市政管理"]
    assert params.get_list("issue") == ["wage-arrears"]

    known = "6a1c6f0e-0000-4000-8000-000000000001"
    client.get("/open311/v2/requests.json", params={"service_request_id": f"{known},not-an-id", "status": "open"})
    assert asked[-1].url.params.multi_items() == [("call_id", known)]  # ids override every other filter

    down = True
    refused = client.get("/open311/v2/requests.xml")
    assert refused.status_code == 400 and refused.headers["Retry-After"]
    assert ET.fromstring(refused.content).findtext("error/code") == "400"
