"""承办人 in the console over fake upstreams: who is offered whom, the picker's check, the queue's assignee filter
and the load panel's rows."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from services.console.routes.queues import MINE, UNASSIGNED, load_rows, search_params
from services.console.users import add_user
from tests.unit.console.test_app import PASSWORD, XHM, FakeIntake, console, intake, sign_in

__all__ = ["console", "intake"]  # the fixtures, shared with test_app


def _second_operator(tmp_path: Path) -> None:
    add_user(
        tmp_path / "users.json",
        name="xhm-2",
        role="street",
        queue=XHM,
        password=PASSWORD,
        api_key_name="console:xhm-2",
        api_key="hl_xhm-2",
    )


def test_an_operator_assigns_its_units_case_to_itself_or_a_colleague(
    console: TestClient, intake: FakeIntake, tmp_path: Path
) -> None:
    _second_operator(tmp_path)
    sign_in(console, "xhm")
    page = console.get("/cases/c-xhm").text
    assert 'id="assignee" data-assignee=""' in page and "未指派" in page
    assert '<option value="xhm" >xhm</option><option value="xhm-2" >xhm-2</option>' in page
    assert 'id="assign-me"' in page

    response = console.post("/cases/c-xhm/steps", data={"kind": "assigned", "assignee": "xhm-2"})

    assert response.status_code == 303
    assert response.headers["location"] == "/cases/c-xhm?done=assigned&assignee=xhm-2"
    assert intake.posted == [("hl_xhm", "c-xhm", {"kind": "assigned", "assignee": "xhm-2"})]


def test_a_name_not_of_the_unit_is_refused_before_intake_and_a_cooperating_unit_assigns_nobody(
    console: TestClient, intake: FakeIntake
) -> None:
    sign_in(console, "xhm")
    refused = console.post("/cases/c-xhm/steps", data={"kind": "assigned", "assignee": "labour"})
    assert refused.status_code == 422 and "not an operator of" in refused.text and "xhm" in refused.text
    # c-labour is led by the labour bureau; the street only cooperates on it: no handler of its to name.
    assert 'id="assign"' not in console.get("/cases/c-labour").text
    assert console.post("/cases/c-labour/steps", data={"kind": "assigned", "assignee": "xhm"}).status_code == 403
    assert console.post("/cases/c-wj/steps", data={"kind": "assigned", "assignee": "xhm"}).status_code == 404
    assert intake.posted == []


def test_a_supervisor_names_an_operator_of_the_unit_but_not_itself(console: TestClient, intake: FakeIntake) -> None:
    sign_in(console, "boss")
    page = console.get("/cases/c-xhm").text
    assert '<option value="xhm" >xhm</option>' in page and 'id="assign-me"' not in page
    assert console.post("/cases/c-xhm/steps", data={"kind": "assigned", "assignee": "boss"}).status_code == 422
    assert console.post("/cases/c-xhm/steps", data={"kind": "assigned", "assignee": "xhm"}).status_code == 303
    assert intake.posted == [("hl_boss", "c-xhm", {"kind": "assigned", "assignee": "xhm"})]


def test_the_queue_filters_mine_unassigned_or_an_operator() -> None:
    assert search_params({"assignee": MINE}, XHM, "s", 5, me="xhm")["assignee"] == "xhm"
    assert search_params({"assignee": UNASSIGNED}, XHM, "s", 5, me="xhm")["unassigned"] == "true"
    assert search_params({"assignee": "xhm-2"}, XHM, "s", 5)["assignee"] == "xhm-2"
    assert "assignee" not in search_params({}, XHM, "s", 5, me="xhm")


def test_the_load_panel_lists_every_operator_then_others_still_holding_cases() -> None:
    load = {"open": 5, "unassigned": 1, "assignees": [{"assignee": "gone", "open": 3}, {"assignee": "xhm", "open": 1}]}
    rows = load_rows(["xhm", "xhm-2"], load)
    assert rows == {
        "rows": [
            {"assignee": "xhm", "open": 1, "operator": True},
            {"assignee": "xhm-2", "open": 0, "operator": True},
            {"assignee": "gone", "open": 3, "operator": False},
        ],
        "unassigned": 1,
        "open": 5,
    }
    assert load_rows(["xhm"], None) is None


def test_the_queue_page_shows_the_assignee_column_and_filter(console: TestClient) -> None:
    sign_in(console, "xhm")
    page = console.get(f"/queues/{XHM}").text
    assert 'id="assignee-filter"' in page and f'value="{MINE}"' in page and f'value="{UNASSIGNED}"' in page
    assert 'class="assignee" data-assignee=""' in page


def test_the_queue_export_has_the_assignee_column(console: TestClient) -> None:
    sign_in(console, "xhm")
    exported = console.get(f"/export/{XHM}")
    assert exported.status_code == 200
    header = exported.text.lstrip("\ufeff").splitlines()[0].split(",")
    assert "assignee" in header
