"""The scoreboard read API on the real embedded database: rates, ranking, top ten, supervision, programme, CSV, SSE."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from services.metrics.repository import MetricsRepository
from shared.events import ProgrammeItemUpdated
from tests import factories

pytestmark = pytest.mark.integration

APRIL = datetime(2026, 4, 10, 2, tzinfo=UTC)
GOOD, POOR = "street:大兴区/西红门镇", "street:朝阳区/望京街道"


@pytest.fixture
async def scored(mongo_db) -> dict:
    """Two streets in April: 西红门镇 handles its 4 cases well; 望京街道 has 6 and handles them poorly."""
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    good = [factories.routed(f"good-{i}", received_at=APRIL, issue="wage-arrears") for i in range(4)]
    poor = [
        factories.routed(f"poor-{i}", received_at=APRIL, queue_id=POOR, unit_name="望京街道", district="朝阳区")
        for i in range(6)
    ]
    march = [
        factories.routed(f"march-{i}", received_at=APRIL - timedelta(days=30), issue="wage-arrears") for i in range(8)
    ]
    await repository.apply_routed(good + poor + march)
    steps = []
    for call in good:
        on_time = call.call.received_at + timedelta(minutes=30)
        steps += [
            factories.case_step(call, kind, actor="t", occurred_at=on_time)
            for kind in ("accepted", "responded", "resolved")
        ]
    steps.append(factories.case_step(good[0], "callback", actor="t", callback_result="satisfied"))
    steps.append(factories.case_step(good[1], "callback", actor="t", callback_result="basically_satisfied"))
    steps.append(factories.case_step(poor[0], "accepted", actor="t"))
    await repository.apply_case_events(steps)
    while await repository.flag_overdue():  # the deadline watcher: 望京街道's missed deadlines are now due
        pass
    return {"good": good, "poor": poor}


@pytest.fixture
def client(metrics_client):
    return metrics_client


async def test_street_scoreboard_has_the_three_rates_composite_and_rank(client, scored) -> None:
    response = await client.get("/v1/scoreboard/units", params={"month": "2026-04", "kind": "street"})

    assert response.status_code == 200
    body = response.json()
    assert body["weights"]["basic_satisfaction_factor"] == 0.9
    units = {u["unit_id"]: u for u in body["units"]}
    good = units[GOOD]
    assert (good["response_rate"], good["resolution_rate"]) == (1.0, 1.0)
    assert good["satisfaction_rate"] == pytest.approx(0.95)
    assert good["composite"] == pytest.approx(10 + 50 + 40 * 0.95)
    assert good["rank"] == 1 and units[POOR]["rank"] == 2
    assert units[POOR]["counts"]["dispatched"] == 6


async def test_district_scoreboard_and_csv_export(client, scored) -> None:
    response = await client.get(
        "/v1/scoreboard/units", params={"month": "2026-04", "kind": "district", "format": "csv"}
    )

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["unit_id"] for r in rows} == {"大兴区", "朝阳区"}
    assert {"composite", "response_rate", "dispatched"} <= set(rows[0])


async def test_top_streets_by_volume(client, scored) -> None:
    body = (await client.get("/v1/scoreboard/top", params={"month": "2026-04"})).json()

    assert [(s["rank"], s["unit_id"], s["volume"]) for s in body["streets"]] == [(1, POOR, 6), (2, GOOD, 4)]


async def test_supervision_names_the_top_streets_with_evidence(client, scored) -> None:
    body = (await client.get("/v1/supervision", params={"month": "2026-04"})).json()

    statuses = {s["unit_id"]: s["status"] for s in body["streets"]}
    assert statuses[POOR] == "enters"
    evidence = next(s for s in body["streets"] if s["unit_id"] == GOOD)["evidence"]
    assert evidence[-1]["month"] == "2026-04" and evidence[-1]["volume"] == 4
    assert evidence[-2]["volume"] == 8  # March


async def test_problem_trend_gives_month_on_month_change_and_the_summary(client, scored) -> None:
    body = (await client.get("/v1/problems/trend", params={"month": "2026-04", "problem": "wage-arrears"})).json()

    row = body["problems"][0]
    assert (row["previous"], row["volume"], row["change"]) == (8, 4, -0.5)
    assert body["summary"]["text"] == "1 of 1 problems fell month on month, 1 by more than 10%"


def _programme_update(status: str, note: str | None = None) -> ProgrammeItemUpdated:
    return factories.programme_update(status, actor="supervisor", note=note)


async def test_programme_updates_are_versioned_applied_once_and_shown_by_the_read_api(client, scored, mongo_db) -> None:
    repository = MetricsRepository(mongo_db)
    first, second = _programme_update("in_progress"), _programme_update("done", note="已完成")

    applied = await repository.apply_programme_updates([first, second, first])
    again = await repository.apply_programme_updates([second])

    assert (applied.applied, applied.duplicates, again.applied, again.duplicates) == (2, 1, 0, 1)
    [stored] = await repository.programme_history("wage-arrears")
    assert stored["version"] == 2
    assert [h["status"] for h in stored["history"]] == ["in_progress", "done"]
    assert stored["history"][1]["note"] == "已完成"
    programme = (await client.get("/v1/programme", params={"month": "2026-04"})).json()
    problem = next(p for p in programme["problems"] if p["id"] == "wage-arrears")
    assert problem["tasks"][0]["status"] == "done" and problem["tasks"][0]["version"] == 2
    assert problem["progress"]["tasks_done"] == 1
    assert programme["progress"]["tasks_done"] == 1
    assert problem["trend"]["volume"] == 4


async def test_the_read_api_takes_no_programme_updates(client) -> None:
    response = await client.post("/v1/programme/wage-arrears/tasks/t1", json={"status": "done"})

    assert response.status_code in (404, 405)


async def test_a_case_is_returned_with_its_history(client, scored) -> None:
    call_id = str(scored["good"][0].call_id)

    body = (await client.get(f"/v1/cases/{call_id}")).json()

    assert body["status"] == "called_back"
    assert [h["kind"] for h in body["history"]] == ["dispatched", "accepted", "responded", "resolved", "callback"]
    assert body["queue_ids"][0] == GOOD


async def test_queue_listing_includes_overdue_counts(client, scored, mongo_db) -> None:
    await MetricsRepository(mongo_db).flag_overdue(APRIL + timedelta(hours=3))

    queues = {q["queue_id"]: q for q in (await client.get("/v1/queues")).json()["queues"]}

    assert queues[POOR]["overdue"] == 6  # none responded within 2 hours
    assert queues[GOOD]["overdue"] == 8  # the 8 open March cases; its 4 April cases were resolved in time


async def test_the_stream_pushes_queues_and_scoreboard_as_server_sent_events(client, scored) -> None:
    response = await client.get("/v1/stream", params={"max_events": 2})

    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.split("\n\n") if block.strip()]
    names = [block.split("\n")[0] for block in events]
    assert names == ["event: queues", "event: scoreboard"]
    queues = json.loads(events[0].split("\n", 1)[1].removeprefix("data: "))
    assert {q["queue_id"] for q in queues["queues"]} >= {GOOD, POOR}


async def test_hot_spots_list_and_openapi_documents_every_figure(client, scored) -> None:
    assert (await client.get("/v1/hotspots")).json() == {"hot_spots": []}
    paths = (await client.get("/openapi.json")).json()["paths"]

    for path in (
        "/v1/scoreboard/units",
        "/v1/scoreboard/top",
        "/v1/supervision",
        "/v1/programme",
        "/v1/problems/trend",
        "/v1/hotspots",
        "/v1/stream",
    ):
        assert path in paths
