"""The console's pages and actions over fake upstreams (a metrics API and an intake in process).

What the real services do is covered end to end in tests/e2e/test_console_browser.py; here the
upstreams are small FastAPI fakes (``fakes.py``) so that every rule is checked quickly and exactly. The fake
metrics API answers with the read API's own response models, so it cannot drift from the real views.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.console.app import create_app
from services.console.clients import upstream_path
from services.console.settings import ConsoleSettings
from services.console.users import add_user
from services.intake.cases import StepsAllowed
from shared.contacts import hash_contact
from shared.events import CaseEventKind
from tests.unit.console.fakes import CASES, LABOUR, PASSWORD, WANGJING, XHM, FakeIntake, fake_metrics
from tests.unit.console.memory_signin import MemorySignInState


@pytest.fixture
def intake() -> FakeIntake:
    return FakeIntake()


def _console(tmp_path: Path, intake: FakeIntake, *, offer_rates: bool = False, **settings: Any) -> TestClient:
    users = tmp_path / "users.json"
    for name, role, queue in (("xhm", "street", XHM), ("labour", "department", LABOUR), ("boss", "supervisor", None)):
        add_user(
            users,
            name=name,
            role=role,
            queue=queue,
            password=PASSWORD,
            api_key_name=f"console:{name}",
            api_key=f"hl_{name}",
        )
    app = create_app(
        ConsoleSettings(users_file=users, revoked_sessions_file=tmp_path / "revoked.json", **settings),
        metrics_transport=httpx.ASGITransport(app=fake_metrics(offer_rates)),
        intake_transport=httpx.ASGITransport(app=intake.app),
        signin_state=MemorySignInState(),
    )
    # The console's own pages post forms: a browser sends their Origin (a cross-site page's is refused).
    return TestClient(app, follow_redirects=False, headers={"Origin": "http://testserver"})


@pytest.fixture
def console(tmp_path: Path, intake: FakeIntake) -> Iterator[TestClient]:
    with _console(tmp_path, intake) as client:
        yield client


def sign_in(client: TestClient, name: str) -> None:
    response = client.post("/login", data={"user": name, "password": PASSWORD, "next": "/queues"})
    assert response.status_code == 303 and response.headers["location"] == "/queues"


def test_pages_send_an_anonymous_visitor_to_sign_in_and_a_wrong_password_is_refused(console: TestClient) -> None:
    response = console.get(f"/queues/{XHM}")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert console.post("/login", data={"user": "xhm", "password": "nope-nope"}).status_code == 401
    assert console.post("/login", data={"user": "nobody", "password": PASSWORD}).status_code == 401
    assert console.get("/live/queues").status_code == 401


def test_after_sign_in_only_a_local_path_is_a_redirect_target(console: TestClient) -> None:
    response = console.post("/login", data={"user": "xhm", "password": PASSWORD, "next": "//evil.example/"})
    assert response.headers["location"] == "/queues"


def test_a_street_operator_sees_its_queue_and_nothing_else_by_url(console: TestClient) -> None:
    sign_in(console, "xhm")
    page = console.get("/queues").text
    assert f'data-queue-id="{XHM}"' in page and WANGJING not in page and LABOUR not in page
    assert console.get(f"/queues/{XHM}").status_code == 200
    assert console.get(f"/queues/{WANGJING}").status_code == 403
    assert console.get(f"/rows/{WANGJING}").status_code == 403
    assert console.get("/cases/c-wj").status_code == 404
    cooperating = console.get("/cases/c-labour")  # issue 14: listed in its queue, but opening it gave 404
    assert cooperating.status_code == 200 and 'data-role="cooperating"' in cooperating.text
    assert 'class="step"' not in cooperating.text, "the lead unit takes the steps"
    assert console.get("/cases/unknown").status_code == 404


def test_a_department_sees_its_own_cases_and_those_it_cooperates_on(console: TestClient) -> None:
    sign_in(console, "labour")
    assert console.get("/cases/c-labour").status_code == 200
    coop = console.get("/cases/c-coop")
    assert coop.status_code == 200 and 'class="step"' not in coop.text, "a cooperating unit is offered no step"
    assert console.get("/cases/c-wj").status_code == 404


def test_the_queue_page_masks_the_citizens_contact(console: TestClient) -> None:
    sign_in(console, "xhm")
    page = console.get(f"/queues/{XHM}").text
    assert 'data-call-id="c-xhm"' in page
    assert "13812345678" not in page and "138****5678" in page
    assert "劳动和社会保障 › 劳动保障 › 拖欠工资" in page


def test_a_citizens_markup_is_shown_as_text_on_the_queue_and_case_pages(
    console: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jinja's autoescaping, held to it: what a citizen wrote never becomes markup in an operator's browser."""
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    case = copy.deepcopy(CASES["c-xhm"])
    case["call"]["subject"] = attack
    case["call"]["body"] = f"{attack} 老板拖欠工资"
    monkeypatch.setitem(CASES, "c-xhm", case)
    sign_in(console, "xhm")
    for page in (console.get(f"/queues/{XHM}").text, console.get("/cases/c-xhm").text):
        assert "&lt;script&gt;" in page
        assert "<script>alert" not in page and "<img src=x" not in page


def test_accepting_posts_the_step_to_intake_with_the_users_own_key(console: TestClient, intake: FakeIntake) -> None:
    sign_in(console, "xhm")
    page = console.get("/cases/c-xhm").text
    assert 'data-step="accepted"' in page and 'data-step="returned"' in page and 'data-step="callback"' not in page
    response = console.post("/cases/c-xhm/steps", data={"kind": "accepted", "note": "签收"})
    assert response.status_code == 303 and response.headers["location"] == "/cases/c-xhm?done=accepted"
    assert intake.posted == [("hl_xhm", "c-xhm", {"kind": "accepted", "note": "签收"})]


def test_a_refused_step_shows_intakes_reason(console: TestClient, intake: FakeIntake) -> None:
    intake.refuse_with = "'accepted' is not allowed when the case is 'accepted' (only when: dispatched)"
    sign_in(console, "xhm")
    response = console.post("/cases/c-xhm/steps", data={"kind": "accepted"})
    assert response.status_code == 409
    assert 'id="refused"' in response.text and "is not allowed when the case is" in response.text


def test_a_step_not_offered_is_refused_without_reaching_intake(console: TestClient, intake: FakeIntake) -> None:
    sign_in(console, "xhm")
    assert console.post("/cases/c-xhm/steps", data={"kind": "callback"}).status_code == 403
    assert console.post("/cases/c-xhm/steps", data={"kind": "teleport"}).status_code == 400
    assert console.post("/cases/c-wj/steps", data={"kind": "accepted"}).status_code == 404
    assert intake.posted == []


def test_a_step_on_another_units_case_answers_as_for_an_unknown_case(console: TestClient, intake: FakeIntake) -> None:
    """issue 12: neither the console nor intake tells another unit that a case exists or where it is."""
    sign_in(console, "xhm")
    for kind in ("accepted", "closed", "teleport"):
        elsewhere = console.post("/cases/c-wj/steps", data={"kind": kind})
        unknown = console.post("/cases/c-nowhere/steps", data={"kind": kind})
        assert elsewhere.status_code == unknown.status_code == 404
        assert elsewhere.text.replace("c-wj", "ID") == unknown.text.replace("c-nowhere", "ID")
        assert WANGJING not in elsewhere.text and "望京" not in elsewhere.text
    assert intake.posted == []


def test_a_case_id_with_a_slash_is_an_unknown_case(console: TestClient, intake: FakeIntake) -> None:
    """Found by the fuzz: ``POST /bulk/q`` with call_id ``x/`` made the read API redirect (307) and gave 500."""
    sign_in(console, "boss")
    bulk = console.post(f"/bulk/{XHM}", data={"call_id": "c-xhm/,c-xhm/x"})
    assert bulk.status_code == 303 and "not_accepted=2" in bulk.headers["location"]
    assert console.post("/cases/c-xhm%2F/steps", data={"kind": "accepted"}).status_code == 404
    assert intake.posted == []


def test_a_month_that_is_not_yyyy_mm_is_422_not_an_upstream_failure(console: TestClient) -> None:
    """Found by the fuzz once the scoreboard's query was declared: ?month=n gave 502 (the read API's 422)."""
    sign_in(console, "boss")
    for path in ("/scoreboard", "/scoreboard.csv"):
        for month in ("n", "1999-12", "2026-13", "\x7f"):
            answer = console.get(path, params={"month": month})
            assert answer.status_code == 422 and "YYYY-MM" in answer.text, (path, month)
    assert console.get("/scoreboard", params={"month": "2026-04"}).status_code == 200


def test_a_whistle_summons_the_chosen_departments(console: TestClient, intake: FakeIntake) -> None:
    CASES["c-xhm"]["status"] = "accepted"
    try:
        sign_in(console, "xhm")
        page = console.get("/cases/c-xhm").text
        assert 'data-step="whistle"' in page
        assert '<option value="department:市交通委员会" label="市交通委员会">' in page, "offered by name"
        departments = "department:市人力资源和社会保障局, department:市住房和城乡建设委员会"
        console.post("/cases/c-xhm/steps", data={"kind": "whistle", "departments": departments})
    finally:
        CASES["c-xhm"]["status"] = "dispatched"
    summoned = ["department:市人力资源和社会保障局", "department:市住房和城乡建设委员会"]
    assert intake.posted[-1][2] == {"kind": "whistle", "departments": summoned}


def test_the_supervisor_records_a_callback_result_and_reclassifies(console: TestClient, intake: FakeIntake) -> None:
    sign_in(console, "boss")
    assert len(console.get("/queues").text.split("data-queue-id=")) == 4
    console.post("/cases/c-wj/steps", data={"kind": "reclassified", "category_path": "城乡建设"})
    assert intake.posted[-1] == (
        "hl_boss",
        "c-wj",
        {
            "kind": "reclassified",
            "classification": {
                "category": "城乡建设",
                "subcategory": None,
                "item": None,
            },
        },
    )


def test_the_scoreboard_shows_what_the_metrics_api_offers_and_says_what_it_does_not(
    tmp_path: Path, intake: FakeIntake
) -> None:
    with _console(tmp_path, intake) as client:
        sign_in(client, "boss")
        page = client.get("/scoreboard?month=2026-04&lang=en").text
        assert page.count("Not available yet") == 3  # rates, programme, hot spots
        assert "<svg" in page and "-40%" in page  # 20 -> 12 month on month
        assert "西红门镇" in page and "人社局" not in page.split('id="top-ten"')[1].split("</section>")[0]
    with _console(tmp_path / "rates", intake, offer_rates=True) as client:
        sign_in(client, "boss")
        page = client.get("/scoreboard?month=2026-04").text
        assert "暂不可用" not in page and "98.0%" in page and "93.2" in page
        assert "欠薪" in page and "-50%" in page  # 每月一题 month on month
        # Issue 14: the summary was the API's English on the Chinese page; there was no district table.
        assert "1 个问题中 1 个环比下降" in page and "problems fell" not in page
        assert 'data-unit-id="大兴区"' in page.split('data-kind="district"')[1]
        assert page.split('id="district-map"')[1].count("data-district=") >= 16, "the district map"
        assert "1 of 1 problems fell" in client.get("/scoreboard?month=2026-04&lang=en").text
        assert "1/27" in page and "3.7%" in page  # programme progress against the annual target
        assert "大兴区/西红门镇" in page.split('id="hot-spots"')[1] and "× 6.0" in page
        # One unit month by month: six months, each against the one before (the fake counts 9 every month).
        unit = client.get(f"/scoreboard?month=2026-04&lang=zh&unit={XHM}").text.split('id="unit-months"')[1]
        unit = unit.split("</section>")[0]
        assert "西红门镇：逐月诉求量" in unit and unit.count('text-anchor="end"') == 6
        assert all(f">{month}<title>" in unit for month in ("2025-11", "2026-01", "2026-04")) and "+0%" in unit
        assert 'class="unit-link"' in page and "点击上表中的单位" in page


def test_intakes_answer_narrows_the_steps_offered(tmp_path: Path, intake: FakeIntake) -> None:
    @intake.app.get("/v1/cases/{call_id}/steps")
    async def steps(call_id: str) -> StepsAllowed:
        return StepsAllowed(
            call_id=uuid.uuid5(uuid.NAMESPACE_URL, call_id),
            status="dispatched",
            role="lead",
            steps=[CaseEventKind.returned],
        )

    with _console(tmp_path, intake) as client:
        sign_in(client, "xhm")
        page = client.get("/cases/c-xhm").text
        assert 'data-step="returned"' in page and 'data-step="accepted"' not in page


def test_the_language_switch_is_remembered_in_a_cookie(console: TestClient) -> None:
    sign_in(console, "xhm")
    assert "<h1>队列" in console.get("/queues").text
    assert "<h1>Queues" in console.get("/queues?lang=en").text
    assert "<h1>Queues" in console.get("/queues").text


def test_pickers_cannot_produce_an_unknown_category_unit_or_department(console: TestClient, intake: FakeIntake) -> None:
    """Issue 14: raw ids in free text; a refused whistle did not say which departments are valid."""
    sign_in(console, "boss")
    page = console.get("/cases/c-wj").text
    assert '<option value="城乡建设/城市建设和市政管理' in page, "the three-level taxonomy is offered, searchable"
    assert 'value="street:大兴区/西红门镇" label="西红门镇（大兴区）"' in page, "units by name"
    refused = console.post("/cases/c-wj/steps", data={"kind": "reclassified", "category_path": "城乡建设/不存在"})
    assert refused.status_code == 422 and "unknown category" in refused.text
    refused = console.post("/cases/c-wj/steps", data={"kind": "dispatched", "queue_id": "street:大兴区/不存在镇"})
    assert refused.status_code == 422 and "unknown unit" in refused.text
    assert intake.posted == [], "nothing unknown reaches intake"
    console.post("/cases/c-wj/steps", data={"kind": "reclassified", "category_path": "城乡建设/城市建设和市政管理"})
    assert intake.posted[-1][2]["classification"] == {
        "category": "城乡建设",
        "subcategory": "城市建设和市政管理",
        "item": None,
    }


def test_a_refused_whistle_lists_the_valid_departments(console: TestClient, intake: FakeIntake) -> None:
    CASES["c-xhm"]["status"] = "accepted"
    try:
        sign_in(console, "xhm")
        refused = console.post("/cases/c-xhm/steps", data={"kind": "whistle", "departments": "department:不存在的局"})
    finally:
        CASES["c-xhm"]["status"] = "dispatched"
    assert refused.status_code == 422 and "不存在的局" in refused.text
    assert (
        "valid departments" in refused.text and "市人力资源和社会保障局" in refused.text.split("valid departments")[1]
    )
    assert intake.posted == []


def test_a_phone_number_is_searched_by_its_salted_hash_a_call_id_as_such_and_the_rest_as_words() -> None:
    from services.console.routes.queues import search_params

    assert search_params({"q": "138-1234-5678"}, XHM, "salt", 200)["contact_hash"] == hash_contact(
        "13812345678", "salt"
    )
    assert "q" not in search_params({"q": "+86 138 1234 5678"}, XHM, "salt", 200)
    assert search_params({"q": "拖欠 工资", "priority": "urgent", "overdue": "1"}, XHM, "s", 5) == {
        "queue_id": XHM, "sort": "urgent", "limit": 5, "q": "拖欠 工资", "priority": [1], "overdue": "true"
    }  # fmt: skip
    assert search_params({"sort": "nonsense"}, XHM, "s", 5)["sort"] == "urgent"


def test_the_queue_exports_as_csv_and_ticked_cases_are_accepted_at_once(
    console: TestClient, intake: FakeIntake
) -> None:
    sign_in(console, "xhm")
    page = console.get(f"/queues/{XHM}?q=拖欠").text
    assert 'data-call-id="c-xhm"' in page and 'id="export-csv"' in page
    assert 'name="call_id" value="c-xhm"' in page, "a case the operator may accept can be ticked"
    exported = console.get(f"/export/{XHM}?q=拖欠")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert {r["call_id"]: r["role"] for r in rows} == {"c-xhm": "lead", "c-labour": "cooperating"}
    assert "13812345678" not in exported.text and "138****5678" in exported.text
    assert console.get(f"/export/{XHM}?q=燃气").text.strip("\ufeff") == ""
    plain = console.get(f"/export/{XHM}")  # no filter: more than the queue listing gives, so through the search
    assert plain.status_code == 200 and "c-xhm" in plain.text
    done = console.post(f"/bulk/{XHM}", data={"call_id": ["c-xhm", "c-wj"], "batch": "b1"}, follow_redirects=False)
    assert done.headers["location"].endswith("accepted=1&not_accepted=1"), "c-wj is not theirs"
    assert intake.posted[-1][1:] == ("c-xhm", {"kind": "accepted"})


def test_the_queue_exports_as_an_excel_workbook_with_citizens_words_kept_as_text(console: TestClient) -> None:
    from openpyxl import load_workbook

    sign_in(console, "xhm")
    page = console.get(f"/queues/{XHM}?q=拖欠").text
    [link] = re.findall(r'<a href="([^"]*)" id="export-xlsx"', page)
    assert link.endswith("format=xlsx") and "q=%E6%8B%96%E6%AC%A0" in link  # the page's filter, then the format
    exported = console.get(f"/export/{XHM}?q=拖欠&format=xlsx")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert exported.headers["content-disposition"].endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(exported.content)).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    by_id = {row[header.index("call_id")]: row for row in rows}
    assert {i: row[header.index("role")] for i, row in by_id.items()} == {"c-xhm": "lead", "c-labour": "cooperating"}
    assert all("13812345678" not in str(cell) for row in rows for cell in row)
    assert console.get(f"/export/{XHM}?format=pdf").status_code == 422


def test_text_a_spreadsheet_would_run_as_a_formula_is_exported_inert() -> None:
    from openpyxl import load_workbook

    from services.console.web import table_download

    rows = [{"words": '=HYPERLINK("http://x","点我")', "n": 3}, {"words": "-1+2", "n": 4}]
    as_csv = bytes(table_download(rows, "t").body).decode("utf-8-sig")
    assert list(csv.DictReader(io.StringIO(as_csv))) == [
        {"words": "'=HYPERLINK(\"http://x\",\"点我\")", "n": "3"}, {"words": "'-1+2", "n": "4"}
    ]  # fmt: skip
    sheet = load_workbook(io.BytesIO(bytes(table_download(rows, "t", "xlsx").body))).active
    cells = list(sheet.iter_rows(min_row=2))
    assert [(row[0].value, row[0].data_type, row[1].value) for row in cells] == [
        ("=HYPERLINK(\"http://x\",\"点我\")", "s", 3), ("-1+2", "s", 4)
    ]  # fmt: skip


def test_the_scoreboard_exports_every_units_rates_as_csv(tmp_path: Path, intake: FakeIntake) -> None:
    with _console(tmp_path, intake, offer_rates=True) as client:
        sign_in(client, "boss")
        assert 'href="/scoreboard.csv?month=2026-04"' in client.get("/scoreboard?month=2026-04").text
        exported = client.get("/scoreboard.csv?month=2026-04")
        workbook = client.get("/scoreboard.xlsx?month=2026-04")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(workbook.content)).active
    header, *cells = list(sheet.iter_rows(values_only=True))
    assert [(row[header.index("kind")], row[header.index("composite")]) for row in cells] == [
        ("street", 93.2), ("district", 49.0)
    ]  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [(r["kind"], r["unit_id"], r["composite"]) for r in rows] == [
        ("street", XHM, "93.2"), ("district", "大兴区", "49.0")
    ]  # fmt: skip


def test_ids_taken_from_the_console_url_reach_the_apis_percent_encoded() -> None:
    """The fuzzer's find: a control character in a queue id made httpx refuse the URL (500)."""
    assert upstream_path("/v1/queues/street:朝阳区/望京街道/cases") == (
        "/v1/queues/street:%E6%9C%9D%E9%98%B3%E5%8C%BA/%E6%9C%9B%E4%BA%AC%E8%A1%97%E9%81%93/cases"
    )
    assert upstream_path("/v1/cases/a\x10?b#c%d/steps") == "/v1/cases/a%10%3Fb%23c%25d/steps"


def _readyz_over(tmp_path: Path, intake: FakeIntake, transport: httpx.AsyncBaseTransport) -> httpx.Response:
    app = create_app(
        ConsoleSettings(users_file=tmp_path / "users.json", revoked_sessions_file=tmp_path / "revoked.json"),
        metrics_transport=transport,
        intake_transport=httpx.ASGITransport(app=intake.app),
        signin_state=MemorySignInState(),
    )
    with TestClient(app) as client:
        return client.get("/readyz")


def test_readyz_is_ready_exactly_when_the_metrics_read_api_is(tmp_path: Path, intake: FakeIntake) -> None:
    """docs/operations.md: the console's /readyz is 200 only when the read API's /readyz answers 200."""
    ready = _readyz_over(tmp_path, intake, httpx.ASGITransport(app=fake_metrics(False)))
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

    def not_ready(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/readyz"
        return httpx.Response(503, json={"status": "not ready", "reason": "MongoDB did not answer"})

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    for handler in (not_ready, unreachable):
        answer = _readyz_over(tmp_path, intake, httpx.MockTransport(handler))
        assert answer.status_code == 503 and answer.json()["status"] == "unavailable", handler.__name__
