"""End to end: Open311 GeoReport v2 on intake's port, against the whole platform as processes.

Every endpoint in JSON and XML; a request filed through Open311 is classified, routed, taken through its
lifecycle with ``POST /v1/cases/{id}/events`` and then reads ``closed`` with its status notes; the
standard's errors; JSON answers validated against the JSON Schemas in docs/open311/, written from the
public GeoReport v2 specification; and two published Open311 client libraries: ``georeport`` reading every
GET call in JSON and XML, ``civicbot`` filing a request and following it to closed.

Size: ~600 lines — every test shares one module-scoped platform (started once); split into files, each
would start its own.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jsonschema
import pytest

from hotline.platform import Platform, ensure_dev_key
from services.intake.app import create_app
from services.intake.open311.mapping import load_divisions, service_catalogue
from services.intake.settings import IntakeSettings
from shared import topics
from shared.api_keys import CASES_ACT, SUPERVISOR, create_key
from shared.events import CallReceived
from shared.reference import load_taxonomy
from shared.settings import ServiceSettings
from tests.conftest import Servers
from tests.e2e.conftest import platform_on_session_servers
from tests.helpers import REPO, read_topic

pytestmark = pytest.mark.e2e

SCHEMAS = REPO / "docs" / "open311"
DATETIME_FIELDS = ("requested_datetime", "updated_datetime", "expected_datetime")


def schema(name: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8")))


def valid(body: Any, name: str) -> Any:
    jsonschema.validate(body, schema(name), format_checker=jsonschema.FormatChecker())
    return body


def xml_of(response: httpx.Response, root: str) -> ET.Element:
    """The parsed XML answer: UTF-8 declared, text/xml, the standard's root element."""
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    element = ET.fromstring(response.content)
    assert element.tag == root
    return element


def xml_errors(response: httpx.Response) -> list[tuple[str, str]]:
    return [(e.findtext("code") or "", e.findtext("description") or "") for e in xml_of(response, "errors")]


@dataclass
class Open311:
    platform: Platform
    bootstrap: str
    calls_key: str
    supervisor_key: str
    settings: ServiceSettings

    @property
    def read(self) -> dict[str, str]:
        """The X-API-Key header of a read:all key of the metrics API (the console's)."""
        return {"X-API-Key": self.platform.service_keys["console"]}

    @property
    def base(self) -> str:
        return f"{self.platform.intake_url}/open311/v2"

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.base}/{path}", params=params, timeout=10)

    def post(self, fmt: str, form: dict[str, Any] | list[tuple[str, str]]) -> httpx.Response:
        return httpx.post(  # form-encoded, as the standard says; a list of pairs repeats a field (attribute[x][])
            f"{self.base}/requests.{fmt}",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            timeout=10,
        )

    def step(self, call_id: str, key: str, kind: str, **fields: Any) -> None:
        response = httpx.post(
            f"{self.platform.intake_url}/v1/cases/{call_id}/events",
            headers={"X-API-Key": key},
            json={"kind": kind, **fields},
            timeout=10,
        )
        assert response.status_code == 202, f"{kind}: {response.status_code} {response.text}"

    def case(self, call_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.platform.metrics_url}/v1/cases/{call_id}", headers=self.read, timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def wait_request(
        self, request_id: str, until: Callable[[dict[str, Any]], bool], what: str, timeout: float = 45
    ) -> dict[str, Any]:
        """Poll GET requests/{id}.json until ``until`` holds (each answer validated against the schema)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            response = self.get(f"requests/{request_id}.json")
            if response.status_code == 200:
                last = valid(response.json(), "requests")[0]
                if until(last):
                    return dict(last)
            else:
                last = valid(response.json(), "errors")
                assert response.status_code == 404, response.text
            time.sleep(0.2)
        raise AssertionError(f"request {request_id}: {what} not seen within {timeout}s; last: {last}")


@pytest.fixture(scope="module")
def open311(servers: Servers, settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Open311]:
    home = tmp_path_factory.mktemp("open311-home")
    platform = platform_on_session_servers(servers, settings, home, "open311")
    calls_key = ensure_dev_key(platform)
    supervisor_key = create_key(platform.api_keys_file, "supervisor-open311", (SUPERVISOR,))
    platform.start(timeout=120)
    try:
        yield Open311(platform, servers.bootstrap_servers, calls_key, supervisor_key, settings)
    finally:
        platform.stop()


def division_code(district: str, street: str | None = None) -> str:
    return load_divisions()[1][(district, street)]


def a_form(open311: Open311, **fields: str) -> dict[str, str]:
    form = {
        "api_key": open311.calls_key,
        "jurisdiction_id": "beijing.gov.cn",
        "service_code": "01-02",
        "description": "小区垃圾桶满了三天没人清运，气味很大。" + uuid.uuid4().hex[:6],
    }
    form.update(fields)
    return form


# ---- services ---------------------------------------------------------------------------------------


def test_service_list_in_json_and_xml_is_the_taxonomy_and_the_monthly_questions(open311: Open311) -> None:
    response = open311.get("services.json", jurisdiction_id="beijing.gov.cn")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    services = valid(response.json(), "services")
    tree = load_taxonomy()
    assert len(services) == len(tree) + sum(len(branch) for branch in tree.values()) + 9
    by_code = {s["service_code"]: s for s in services}
    assert by_code["15"]["group"] == "劳动和社会保障 · Labour and social security"
    wages = next(s for s in services if s["group"].startswith("劳动和社会保障") and s["service_name"] == "工资福利")
    assert wages["metadata"] is True and "工资发放" in wages["keywords"]
    assert "市人力资源和社会保障局劳动保障监察总队" in wages["description"]  # from the dispatch catalogue
    arrears = by_code["mq-wage-arrears"]
    assert (
        arrears["service_name"] == "每月一题 欠薪 · Wage arrears of migrant workers" and arrears["type"] == "realtime"
    )

    listed = xml_of(open311.get("services.xml"), "services")
    assert [s.findtext("service_code") for s in listed] == [s["service_code"] for s in services]
    xml_wages = next(s for s in listed if s.findtext("service_code") == wages["service_code"])
    assert {child.tag: child.text for child in xml_wages} == {
        **{k: str(v) for k, v in wages.items()},
        "metadata": "true",
    }


def test_service_definitions_in_json_and_xml_carry_every_datatype(open311: Open311) -> None:
    datatypes = set()
    for service in open311.get("services.json").json():
        if not service["metadata"]:
            continue
        definition = valid(open311.get(f"services/{service['service_code']}.json").json(), "service-definition")
        assert definition["service_code"] == service["service_code"] and definition["attributes"]
        datatypes |= {a["datatype"] for a in definition["attributes"]}
    assert datatypes == {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}

    definition = open311.get("services/mq-wage-arrears.json").json()
    employer = definition["attributes"][0]
    assert (employer["code"], employer["required"], employer["order"]) == ("employer", True, 1)
    element = xml_of(open311.get("services/mq-wage-arrears.xml"), "service_definition")
    assert element.findtext("service_code") == "mq-wage-arrears"
    attributes = element.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == [a["code"] for a in definition["attributes"]]
    evidence = next(a for a in attributes if a.findtext("code") == "evidence")
    assert evidence.findtext("datatype") == "multivaluelist" and evidence.findtext("required") == "false"
    assert ("contract", "劳动合同 · Employment contract") in [
        (v.findtext("key"), v.findtext("name")) for v in evidence.findall("values/value")
    ]


# ---- a request's whole life -------------------------------------------------------------------------


def test_a_request_filed_through_open311_is_routed_handled_and_reads_closed(open311: Open311) -> None:
    form = a_form(
        open311,
        address_id=division_code("通州区", "永顺镇"),
        address_string="永顺镇某小区5号楼",
        lat="39.9",
        long="116.65",
        **{"attribute[item]": "环境卫生"},
        email="zhang.san@example.com",
        phone="13600001234",
        first_name="三",
        last_name="张",
        device_id="device-42",
        account_id="acct-7",
        media_url="https://photos.example.com/rubbish.jpg",
    )
    response = open311.post("json", form)
    assert response.status_code == 200, response.text
    created = valid(response.json(), "request-created")[0]
    request_id = created["service_request_id"]
    assert uuid.UUID(request_id) and created["account_id"] == "acct-7" and "token" not in created

    # The same CallReceived event as /v1/calls, contact hashed and masked, the chosen service carried.
    raw = asyncio.run(
        read_topic(
            open311.bootstrap,
            topics.CALLS_RECEIVED,
            until=lambda kept: bool(kept),
            keep=lambda v: request_id.encode() in v,
        )
    )
    event = CallReceived.model_validate_json(raw[0])
    assert event.call.channel == "open311" and event.call.requested is not None
    assert (event.call.requested.code, event.call.requested.item) == ("01-02", "环境卫生")
    assert event.call.contact is not None and event.call.contact.masked == "136****1234"
    assert b"13600001234" not in raw[0] and b"zhang.san" not in raw[0] and "张".encode() not in raw[0]

    dispatched = open311.wait_request(request_id, lambda r: True, "the stored case")
    assert dispatched["status"] == "open" and dispatched["agency_responsible"] == "通州区永顺镇"
    assert dispatched["service_code"] == "01-02" and dispatched["service_name"] == "城市建设和市政管理"
    assert (
        dispatched["address_id"] == division_code("通州区", "永顺镇") and dispatched["address"] == "永顺镇某小区5号楼"
    )
    assert (dispatched["lat"], dispatched["long"]) == (39.9, 116.65)
    assert dispatched["media_url"] == "https://photos.example.com/rubbish.jpg"
    assert dispatched["expected_datetime"] and dispatched["service_notice"]
    case = open311.case(request_id)
    assert case["queue_id"] == "street:通州区/永顺镇"
    assert (case["classification"]["category"], case["classification"]["subcategory"]) == (
        "城乡建设",
        "城市建设和市政管理",
    )
    assert dispatched["expected_datetime"].startswith(case["assignment"]["resolution_due_at"][:16])

    street = create_key(open311.platform.api_keys_file, "yongshun", (CASES_ACT,), units=("street:通州区/永顺镇",))
    open311.step(request_id, street, "accepted")
    open311.wait_request(request_id, lambda r: "已签收" in r["status_notes"], "accepted")
    open311.step(request_id, street, "responded")
    open311.wait_request(request_id, lambda r: "已响应" in r["status_notes"], "responded")
    open311.step(request_id, street, "resolved", note="垃圾已全部清运，垃圾桶已清洗消毒")
    resolved = open311.wait_request(request_id, lambda r: r["status"] == "closed", "resolved")
    assert "垃圾已全部清运" in resolved["status_notes"]
    open311.step(request_id, open311.supervisor_key, "callback", callback_result="satisfied")
    open311.wait_request(request_id, lambda r: "回访" in r["status_notes"], "called back")
    open311.step(request_id, open311.supervisor_key, "closed")
    closed = open311.wait_request(request_id, lambda r: r["status_notes"].startswith("已结案"), "closed")
    assert closed["status"] == "closed" and "满意 · satisfied" in closed["status_notes"]
    assert closed["updated_datetime"] >= resolved["updated_datetime"] >= dispatched["updated_datetime"]

    element = xml_of(open311.get(f"requests/{request_id}.xml"), "service_requests")
    [request] = element.findall("request")
    assert request.findtext("status") == "closed"
    assert request.findtext("status_notes") == closed["status_notes"]  # Chinese intact in UTF-8 XML
    assert request.findtext("agency_responsible") == "通州区永顺镇"
    assert {child.tag for child in request} == set(closed)
    text = json.dumps(closed, ensure_ascii=False) + response.text + open311.get(f"requests/{request_id}.xml").text
    for private in ("13600001234", "136****1234", "zhang.san", "张", "device-42"):
        assert private not in text, f"{private} leaked"

    # GET requests: by id, and by service code, status and dates.
    listed = valid(open311.get("requests.json", service_request_id=f"{request_id},{uuid.uuid4()}").json(), "requests")
    assert [r["service_request_id"] for r in listed] == [request_id]
    closed_ones = valid(open311.get("requests.json", service_code="01-02", status="closed").json(), "requests")
    assert request_id in {r["service_request_id"] for r in closed_ones}
    assert all(r["status"] == "closed" and r["service_code"] == "01-02" for r in closed_ones)
    open_ones = open311.get("requests.json", status="open").json()
    assert request_id not in {r["service_request_id"] for r in open_ones}
    earlier = open311.get("requests.json", start_date="2024-01-01T00:00:00Z", end_date="2024-03-01T00:00:00+08:00")
    assert valid(earlier.json(), "requests") == []
    listed_xml = xml_of(open311.get("requests.xml", service_code="01-02", status="closed"), "service_requests")
    assert request_id in [r.findtext("service_request_id") for r in listed_xml.findall("request")]


def test_a_monthly_question_filed_in_xml_keeps_its_problem_and_goes_to_its_department(open311: Open311) -> None:
    form = [
        ("api_key", open311.calls_key),
        ("service_code", "mq-wage-arrears"),
        ("address_string", "大兴区西红门镇某工地"),
        ("description", "工地老板三个月没有结账，我们十几个人都等着这笔钱回家过年。"),
        ("attribute[employer]", "某建筑劳务公司"),
        ("attribute[amount_owed]", "86000"),
        ("attribute[owed_since]", "2025-09-01"),
        ("attribute[evidence][]", "contract"),
        ("attribute[evidence][]", "messages"),
    ]
    response = open311.post("xml", form)
    assert response.status_code == 200, response.text
    [created] = xml_of(response, "service_requests").findall("request")
    request_id = created.findtext("service_request_id") or ""
    assert created.find("token") is None and "欠薪" in (created.findtext("service_notice") or "")

    request = open311.wait_request(request_id, lambda r: True, "the stored case")
    assert request["service_code"] == "mq-wage-arrears"
    assert request["agency_responsible"] == "市人力资源和社会保障局劳动保障监察总队"
    case = open311.case(request_id)
    assert case["classification"]["issue"] == "wage-arrears"
    assert case["call"]["requested"]["attributes"]["evidence"] == ["contract", "messages"]

    again = open311.post("xml", form)  # the same form again: the same request (idempotent)
    assert [r.findtext("service_request_id") for r in xml_of(again, "service_requests")] == [request_id]


def test_the_citizens_category_is_kept_when_the_model_is_not_sure_it_is_wrong(open311: Open311) -> None:
    # The model alone reads this as 城乡建设 (p about 0.63): not sure enough to overrule the citizen's 交通运输.
    transport = _code_of("交通运输", None)
    response = open311.post(
        "json",
        a_form(
            open311,
            service_code=transport,
            description="楼下那个情况还是老样子，麻烦来看看。",
            address_id=division_code("海淀区", "中关村街道"),
        ),
    )
    request_id = valid(response.json(), "request-created")[0]["service_request_id"]
    request = open311.wait_request(request_id, lambda r: True, "the stored case")
    # the citizen's level-1 service is kept; the model picks level 2 inside it (docs/open311.md)
    assert request["service_code"].split("-")[0] == transport, request["service_code"]
    assert request["agency_responsible"] == "市交通委员会"
    classification = open311.case(request_id)["classification"]
    assert classification["category"] == "交通运输" and classification["needs_review"] is False
    assert classification["explanation"] == [f"service_code={transport}"]


def _code_of(category: str, subcategory: str | None) -> str:
    code = service_catalogue().code_for(category, subcategory, None)
    assert code is not None
    return code


# ---- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_are_the_standards_in_both_formats(open311: Open311, fmt: str) -> None:
    no_key = a_form(open311, address_string="北京市东城区")
    del no_key["api_key"]
    reader = create_key(open311.platform.api_keys_file, "reader-only", ("cases:act",))
    cases: list[tuple[int, str, httpx.Response]] = [
        (403, "api_key is missing", open311.post(fmt, no_key)),
        (403, "Invalid api_key", open311.post(fmt, a_form(open311, api_key="hl_wrong", address_string="东城区"))),
        (
            403,
            "lacks the scope calls:write",
            open311.post(fmt, a_form(open311, api_key=reader, address_string="东城区")),
        ),
        (
            404,
            "service_code '99-99' not found",
            open311.post(fmt, a_form(open311, service_code="99-99", address_string="东城区")),
        ),
        (
            400,
            "service_code was not provided",
            open311.post(fmt, a_form(open311, service_code="", address_string="东城区")),
        ),
        (400, "a location is required", open311.post(fmt, a_form(open311))),
        (400, "lat and long must be sent together", open311.post(fmt, a_form(open311, lat="39.9"))),
        (400, "lat must be between", open311.post(fmt, a_form(open311, lat="139.9", long="116.4"))),
        (400, "address_id '12' is not", open311.post(fmt, a_form(open311, address_id="12"))),
        (
            400,
            "attribute[employer] is required",
            open311.post(fmt, a_form(open311, service_code="mq-wage-arrears", address_string="东城区")),
        ),
        (
            400,
            "not among its values",
            open311.post(fmt, a_form(open311, address_string="东城区", **{"attribute[item]": "火星"})),
        ),
        (
            400,
            "address_string must not contain NUL or control characters",
            open311.post(fmt, a_form(open311, address_string="东城区\x01某小区")),
        ),
        (404, "not found", open311.get(f"services/99-99.{fmt}")),
        (404, "not found", open311.get(f"requests/{uuid.uuid4()}.{fmt}")),
        (404, "not found", open311.get(f"requests/no-such-request.{fmt}")),
        (404, "token", open311.get(f"tokens/{uuid.uuid4().hex}.{fmt}")),
        (400, "start_date must be a W3C datetime", open311.get(f"requests.{fmt}", start_date="2024-01-01")),
        (
            400,
            "end_date '2024-02-30T00:00:00Z' is not a valid",
            open311.get(f"requests.{fmt}", end_date="2024-02-30T00:00:00Z"),
        ),
        (
            400,
            "start_date is after end_date",
            open311.get(f"requests.{fmt}", start_date="2024-03-01T00:00:00Z", end_date="2024-02-01T00:00:00Z"),
        ),
        (
            400,
            "may not span more than 90 days",
            open311.get(f"requests.{fmt}", start_date="2024-01-01T00:00:00Z", end_date="2024-06-01T00:00:00Z"),
        ),
        (400, "status must be open, closed", open311.get(f"requests.{fmt}", status="pending")),
        (404, "service_code 'nope' not found", open311.get(f"requests.{fmt}", service_code="nope")),
    ]
    for status, words, response in cases:
        assert response.status_code == status, (words, response.status_code, response.text)
        if fmt == "json":
            assert response.headers["content-type"] == "application/json; charset=utf-8"
            errors = [(str(e["code"]), e["description"]) for e in valid(response.json(), "errors")]
        else:
            errors = xml_errors(response)
        assert errors and all(code == str(status) for code, _ in errors), (words, errors)
        assert any(words in description for _, description in errors), (words, errors)
    assert open311.get("services.html").status_code == 404


def test_not_form_encoded_is_refused(open311: Open311) -> None:
    response = httpx.post(f"{open311.base}/requests.json", json={"api_key": open311.calls_key}, timeout=10)
    assert response.status_code == 400
    assert "x-www-form-urlencoded" in valid(response.json(), "errors")[0]["description"]


# ---- tokens (the batch service type) ----------------------------------------------------------------


def test_batch_type_answers_a_token_that_resolves_once_the_request_is_stored(open311: Open311) -> None:
    platform = open311.platform
    batch = IntakeSettings(
        open311_service_type="batch",
        metrics_url=platform.metrics_url,
        metrics_api_key=platform.service_keys["open311"],
        api_keys_file=platform.api_keys_file,
        contact_salt=open311.settings.contact_salt,
        kafka=open311.settings.kafka,
        mongodb=platform.settings.mongodb,
    )

    async def file_and_resolve() -> tuple[dict[str, Any], list[dict[str, Any]], ET.Element, str]:
        app = create_app(batch)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://intake/open311/v2/", timeout=30
            ) as client:
                services = (await client.get("services.json")).json()
                assert {s["type"] for s in services} == {"batch"}
                form = a_form(open311, address_id=division_code("朝阳区", "望京街道"))
                created = valid((await client.post("requests.json", data=form)).json(), "request-created")[0]
                token = created["token"]
                deadline = time.monotonic() + 45
                while True:
                    answer = await client.get(f"tokens/{token}.json")
                    if answer.status_code == 200 or time.monotonic() > deadline:
                        break
                    assert answer.status_code == 404
                    await asyncio.sleep(0.2)
                xml = xml_of(await client.get(f"tokens/{token}.xml"), "service_requests")
                return created, answer.json(), xml, token

    created, resolved, xml, token = asyncio.run(file_and_resolve())
    assert "service_request_id" not in created
    [pair] = valid(resolved, "token")
    assert pair["token"] == token and uuid.UUID(pair["service_request_id"]).hex == token
    assert xml.findtext("request/service_request_id") == pair["service_request_id"]
    open311.wait_request(pair["service_request_id"], lambda r: r["agency_responsible"] == "朝阳区望京街道", "routing")


# ---- a published Open311 client -------------------------------------------------------------------------


def test_the_georeport_client_library_reads_services_and_requests(open311: Open311) -> None:
    """``georeport`` (PyPI) reads every GET call in JSON and XML; it cannot file requests (its README says so),
    so the request is filed with a plain form POST exactly as the standard shows."""
    from georeport import GeoReport

    response = open311.post("json", a_form(open311, address_id=division_code("西城区", "西长安街街道")))
    request_id = response.json()[0]["service_request_id"]
    open311.wait_request(request_id, lambda r: True, "the stored case")
    for output_format in ("json", "xml"):
        client = GeoReport(
            open311.base, jurisdiction="beijing.gov.cn", api_key=open311.calls_key, output_format=output_format
        )
        services = client.get_service_list()
        assert len(services) == len(open311.get("services.json").json())
        definition = client.get_service_definition("mq-prepaid-refund")
        assert definition["service_code"] == "mq-prepaid-refund"
        one = client.get_service_request(request_id)
        assert one["service_request_id"] == request_id and one["status"] == "open"
        assert one["agency_responsible"] == "西城区西长安街街道"
        many = client.get_service_requests(service_request_id=request_id)
        many = many if isinstance(many, list) else [many]  # xmltodict gives one element as a dict
        assert [r["service_request_id"] for r in many] == [request_id]


def test_the_civicbot_client_library_files_a_request_and_follows_it_to_closed(open311: Open311) -> None:
    """``civicbot`` (PyPI, MIT; JSON only) files a request with its own form builder, after checking it against
    the service list and definition it read from us, and follows it: one request, by id, by service and status,
    its token; the unit's steps go through ``POST /v1/cases/{id}/events`` and civicbot then reads ``closed``."""
    from civicbot import Endpoint, Open311Client, ValidationError

    client = Open311Client(
        Endpoint(id="hotline", name="Hotline 12345", base_url=open311.base, write=True),
        jurisdiction_id="beijing.gov.cn",
    )
    assert len(client.list_services()) == len(open311.get("services.json").json())
    form = {
        "address_id": division_code("海淀区", "中关村街道"),
        "address_string": "中关村大街某小区",
        "description": "在拼多多买的电饭煲收到就坏了，商家拒绝退款。" + uuid.uuid4().hex[:6],
        "phone": "13900005678",
        "first_name": "四",
        "last_name": "李",
    }
    with pytest.raises(ValidationError, match="platform"):  # required, as our service definition says
        client.create_request("mq-online-consumption", validate_remote=True, **form)
    prepared = client.create_request(
        "mq-online-consumption",
        dry_run=False,
        confirm="SEND",
        api_key=open311.calls_key,
        validate_remote=True,
        attributes={"platform": "pinduoduo", "amount": "299", "problem": ["refund", "quality"]},
        **form,
    )
    [created] = valid(prepared.response, "request-created")
    request_id = created["service_request_id"]
    open311.wait_request(request_id, lambda r: True, "the stored case")
    case = open311.case(request_id)
    assert case["call"]["requested"]["attributes"] == {
        "platform": ["pinduoduo"],
        "amount": ["299"],
        "problem": ["refund", "quality"],
    }
    assert case["call"]["contact"]["masked"] == "139****5678"

    one = client.get_request(request_id)
    assert one is not None and valid([one], "requests")
    assert (one["status"], one["service_code"]) == ("open", "mq-online-consumption")
    assert one["agency_responsible"] == "市市场监督管理局" and "13900005678" not in json.dumps(one)
    assert [r["service_request_id"] for r in client.list_requests(service_request_ids=[request_id])] == [request_id]
    assert client.get_token(uuid.UUID(request_id).hex) == [
        {"service_request_id": request_id, "token": uuid.UUID(request_id).hex}
    ]

    unit = create_key(
        open311.platform.api_keys_file, "market-regulation", (CASES_ACT,), units=("department:市市场监督管理局",)
    )
    open311.step(request_id, unit, "accepted")  # each step is checked against the state the last one left
    open311.wait_request(request_id, lambda r: "已签收" in r["status_notes"], "accepted")
    open311.step(request_id, unit, "responded")
    open311.wait_request(request_id, lambda r: "已响应" in r["status_notes"], "responded")
    open311.step(request_id, unit, "resolved", note="商家已全额退款")
    open311.wait_request(request_id, lambda r: r["status"] == "closed", "resolved")
    closed = client.get_request(request_id)
    assert closed is not None and closed["status"] == "closed" and "商家已全额退款" in closed["status_notes"]
    listed = client.list_requests(service_code="mq-online-consumption", status="closed")
    assert request_id in [r["service_request_id"] for r in valid(listed, "requests")]


def test_schemas_are_valid_json_schemas() -> None:
    for path in sorted(Path(SCHEMAS).glob("*.schema.json")):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))
