"""The console's pages and actions over fake upstreams (a metrics API and an intake in process).

What the real services do is covered end to end in tests/e2e/test_console_browser.py; here the
upstreams are small FastAPI fakes so that every rule is checked quickly and exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from services.console.app import create_app
from services.console.settings import ConsoleSettings
from services.console.users import add_user

XHM = "street:大兴区/西红门镇"
WANGJING = "street:朝阳区/望京街道"
LABOUR = "department:市人力资源社会保障局"
PASSWORD = "long-enough-password"


def _case(call_id: str, queue_id: str, status: str = "dispatched", cooperating: list[str] | None = None) -> dict:
    return {
        "call_id": call_id,
        "status": status,
        "queue_id": queue_id,
        "district": queue_id.split(":")[1].split("/")[0],
        "received_at": "2026-04-10T01:00:00Z",
        "routed_at": "2026-04-10T01:00:01Z",
        "month": "2026-04",
        "day": "2026-04-10",
        "call": {
            "subject": "拖欠工资",
            "body": "老板拖欠工资三个月，我的电话13812345678",
            "location": {"address": "大兴区西红门镇宏福苑"},
            "contact": {"hash": "x", "masked": "138****5678"},
        },
        "classification": {
            "category": "劳动和社会保障",
            "subcategory": "劳动保障",
            "item": "拖欠工资",
            "confidence": 0.93,
        },
        "assignment": {
            "queue_id": queue_id,
            "unit_kind": queue_id.split(":")[0],
            "unit_name": queue_id.rsplit("/", 1)[-1],
            "cooperating_units": cooperating or [],
            "reason": "rule wage-arrears",
            "resolution_due_at": "2026-04-17T01:00:00Z",
            "response_due_at": "2026-04-10T03:00:00Z",
        },
    }


CASES = {
    "c-xhm": _case("c-xhm", XHM),
    "c-wj": _case("c-wj", WANGJING),
    "c-labour": _case("c-labour", LABOUR, "accepted", cooperating=[XHM]),
    "c-coop": _case("c-coop", WANGJING, "accepted", cooperating=[LABOUR]),
}


def fake_metrics(offer_rates: bool) -> FastAPI:
    app = FastAPI()
    row_trend = {"volume": 12, "change": -0.5}

    @app.get("/readyz")
    async def ready() -> dict:
        return {"status": "ready"}

    @app.get("/v1/queues")
    async def queues() -> dict:
        listed = {}
        for case in CASES.values():
            queue = listed.setdefault(
                case["queue_id"],
                {
                    "queue_id": case["queue_id"],
                    "unit_kind": case["assignment"]["unit_kind"],
                    "unit_name": case["assignment"]["unit_name"],
                    "depth": 0,
                    "dispatched_total": 0,
                    "oldest_waiting": None,
                },
            )
            queue["depth"] += 1
            queue["dispatched_total"] += 1
        return {"generated_at": "2026-04-10T02:00:00Z", "queues": list(listed.values())}

    @app.get("/v1/queues/{queue_id:path}/cases")
    async def queue_cases(queue_id: str) -> dict:
        return {
            "queue_id": queue_id,
            "order": "oldest",
            "cases": [c for c in CASES.values() if c["queue_id"] == queue_id],
        }

    @app.get("/v1/cases/{call_id}")
    async def case(call_id: str) -> Any:
        return CASES[call_id] if call_id in CASES else JSONResponse({"detail": "no case"}, status_code=404)

    @app.get("/v1/metrics/monthly")
    async def monthly(month: str, dimension: str) -> dict:
        counts = {
            "category": [{"value": "劳动和社会保障", "count": 12 if month == "2026-04" else 20}],
            "unit": [
                {"value": XHM, "label": "西红门镇", "count": 9},
                {"value": LABOUR, "label": "人社局", "count": 30},
            ],
        }.get(dimension, [])
        return {"month": month, "dimension": dimension, "total": 0, "counts": counts}

    if offer_rates:

        @app.get("/v1/scoreboard/units")
        async def scoreboard(month: str, kind: str) -> dict:
            units = {
                "street": [
                    {
                        "unit_id": XHM,
                        "label": "西红门镇",
                        "unit_kind": "street",
                        "rank": 1,
                        "response_rate": 0.98,
                        "resolution_rate": 0.9,
                        "satisfaction_rate": 0.95,
                        "composite": 93.2,
                        "counts": {},
                    },
                ],
                "department": [],
            }
            return {"month": month, "kind": kind, "weights": {}, "units": units[kind]}

        @app.get("/v1/scoreboard/top")
        async def top(month: str) -> dict:
            return {"month": month, "top": [{"rank": 1, "unit_id": XHM, "label": "西红门镇", "volume": 9}]}

        @app.get("/v1/problems/trend")
        async def trend(month: str, months: int) -> dict:
            row = {"problem": "wage-arrears", "volume": 12, "previous": 24, "change": -0.5}
            return {"month": month, "problems": [row], "summary": {"text": "1 of 1 problems fell"}}

        @app.get("/v1/programme")
        async def programme(month: str) -> dict:
            progress = {"tasks_done": 1, "tasks_total": 3, "policies_issued": 0, "policies_planned": 2}
            overall = {
                "tasks_done": 1,
                "task_target": 27,
                "task_share": 1 / 27,
                "policies_issued": 0,
                "policy_target": 18,
                "policy_share": 0.0,
            }
            return {
                "progress": overall,
                "problems": [
                    {
                        "id": "wage-arrears",
                        "name": {"zh": "欠薪", "en": "Wage arrears"},
                        "progress": progress,
                        "trend": row_trend,
                    }
                ],
            }

        @app.get("/v1/hotspots")
        async def hotspots(limit: int) -> dict:
            return {
                "hotspots": [
                    {
                        "area": "大兴区/西红门镇",
                        "problem": "wage-arrears",
                        "window": "day",
                        "day": "2026-04-10",
                        "count": 9,
                        "baseline": 1.5,
                        "ratio": 6.0,
                    }
                ]
            }

    return app


class FakeIntake:
    def __init__(self) -> None:
        self.posted: list[tuple[str, str, dict]] = []
        self.refuse_with: str | None = None
        self.app = FastAPI()

        @self.app.post("/v1/cases/{call_id}/events")
        async def step(call_id: str, request: Request) -> JSONResponse:
            self.posted.append((request.headers.get("x-api-key", ""), call_id, await request.json()))
            if self.refuse_with:
                return JSONResponse({"detail": self.refuse_with}, status_code=409)
            return JSONResponse({"status": "accepted"}, status_code=202)


@pytest.fixture
def intake() -> FakeIntake:
    return FakeIntake()


def _console(tmp_path: Path, intake: FakeIntake, *, offer_rates: bool = False) -> TestClient:
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
        ConsoleSettings(users_file=users),
        metrics_transport=httpx.ASGITransport(app=fake_metrics(offer_rates)),
        intake_transport=httpx.ASGITransport(app=intake.app),
    )
    return TestClient(app, follow_redirects=False)


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
    assert console.get("/cases/c-labour").status_code == 404, "a street does not see the cases it cooperates on"
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


def test_a_whistle_summons_the_chosen_departments(console: TestClient, intake: FakeIntake) -> None:
    CASES["c-xhm"]["status"] = "accepted"
    try:
        sign_in(console, "xhm")
        page = console.get("/cases/c-xhm").text
        assert 'data-step="whistle"' in page
        assert '<option value="department:市交通委员会">' in page, "the catalogue's departments are offered"
        departments = f"{LABOUR}, department:市住房和城乡建设委员会"
        console.post("/cases/c-xhm/steps", data={"kind": "whistle", "departments": departments})
    finally:
        CASES["c-xhm"]["status"] = "dispatched"
    assert intake.posted[-1][2] == {"kind": "whistle", "departments": [LABOUR, "department:市住房和城乡建设委员会"]}


def test_the_supervisor_records_a_callback_result_and_reclassifies(console: TestClient, intake: FakeIntake) -> None:
    sign_in(console, "boss")
    assert len(console.get("/queues").text.split("data-queue-id=")) == 4
    console.post(
        "/cases/c-wj/steps", data={"kind": "reclassified", "category": "城乡建设", "subcategory": "", "item": ""}
    )
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
        assert "欠薪" in page and "-50%" in page and "1 of 1 problems fell" in page  # 每月一题 month on month
        assert "1/27" in page and "3.7%" in page  # programme progress against the annual target
        assert "大兴区/西红门镇" in page.split('id="hot-spots"')[1] and "× 6.0" in page


def test_intakes_answer_narrows_the_steps_offered(tmp_path: Path, intake: FakeIntake) -> None:
    @intake.app.get("/v1/cases/{call_id}/steps")
    async def steps(call_id: str) -> dict:
        return {"call_id": call_id, "status": "dispatched", "role": "lead", "steps": ["returned"]}

    with _console(tmp_path, intake) as client:
        sign_in(client, "xhm")
        page = client.get("/cases/c-xhm").text
        assert 'data-step="returned"' in page and 'data-step="accepted"' not in page


def test_the_language_switch_is_remembered_in_a_cookie(console: TestClient) -> None:
    sign_in(console, "xhm")
    assert "<h1>队列" in console.get("/queues").text
    assert "<h1>Queues" in console.get("/queues?lang=en").text
    assert "<h1>Queues" in console.get("/queues").text
