"""每月一题 status updates through intake, over the bus, into the metrics worker, read back from the read API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pymongo import AsyncMongoClient

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.metrics.api import create_app as create_metrics
from services.metrics.settings import MetricsSettings
from shared import topics
from shared.api_keys import CALLS_WRITE, PROGRAMME_WRITE, READ_ALL, SUPERVISOR, create_key
from shared.events import DeadLetter, ProgrammeItemUpdated
from shared.programme import DEFAULT_PATH
from shared.settings import ServiceSettings
from tests.helpers import present, produce, read_topic, run_service

pytestmark = pytest.mark.integration


@pytest.fixture
def programme_path(tmp_path: Path) -> tuple[Path, str]:
    """The shipped programme plus one problem only this test uses (other tests' events never touch it)."""
    document = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    problem_id = f"test-problem-{uuid.uuid4().hex[:8]}"
    document["problems"].append(
        {
            "id": problem_id,
            "name": {"zh": "测试问题", "en": "A test problem"},
            "category": "城乡建设",
            "lead_unit": "department:市住房城乡建设委",
            "month": "2026-04",
            "tasks": [{"id": "t1", "title": "任务1", "status": "planned"}],
            "policies": [{"id": "p1", "title": "政策1", "status": "planned"}],
        }
    )
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path, problem_id


@pytest.fixture
async def intake(
    intake_settings: IntakeSettings, mongo_db: Any, programme_path: tuple[Path, str]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_intake(intake_settings.model_copy(update={"programme_path": programme_path[0]}), database=mongo_db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", timeout=60) as running:
            yield running


def key_headers(intake_settings: IntakeSettings, scopes: list[str]) -> dict[str, str]:
    return {"X-API-Key": create_key(intake_settings.api_keys_file, f"programme-{uuid.uuid4().hex[:6]}", scopes)}


async def test_intake_refuses_keys_items_and_statuses_that_do_not_fit(
    intake: httpx.AsyncClient, intake_settings: IntakeSettings, programme_path: tuple[Path, str]
) -> None:
    _, problem_id = programme_path
    writer = key_headers(intake_settings, [PROGRAMME_WRITE])
    url = f"/v1/programme/{problem_id}/tasks/t1"

    assert (await intake.post(url, json={"status": "done"})).status_code == 401
    assert (
        await intake.post(url, json={"status": "done"}, headers=key_headers(intake_settings, [CALLS_WRITE]))
    ).status_code == 403
    assert (
        await intake.post("/v1/programme/no-such-problem/tasks/t1", json={"status": "done"}, headers=writer)
    ).status_code == 404
    assert (
        await intake.post(f"/v1/programme/{problem_id}/tasks/t9", json={"status": "done"}, headers=writer)
    ).status_code == 404
    assert (
        await intake.post(f"/v1/programme/{problem_id}/goals/t1", json={"status": "done"}, headers=writer)
    ).status_code == 404
    wrong = await intake.post(url, json={"status": "issued"}, headers=writer)
    assert wrong.status_code == 422 and "in_progress" in wrong.json()["detail"]
    assert (await intake.post(url, json={"state": "done"}, headers=writer)).status_code == 422


async def test_an_update_is_published_keyed_by_problem_and_applied_once_by_the_worker(
    intake: httpx.AsyncClient,
    settings: ServiceSettings,
    intake_settings: IntakeSettings,
    worker_env: dict[str, str],
    servers: Any,
    programme_path: tuple[Path, str],
    tmp_path: Path,
) -> None:
    path, problem_id = programme_path
    supervisor = {**key_headers(intake_settings, [SUPERVISOR]), "Idempotency-Key": f"req-{uuid.uuid4().hex}"}
    url = f"/v1/programme/{problem_id}/policies/p1"

    first = await intake.post(url, json={"status": "drafting", "note": "起草中"}, headers=supervisor)
    resubmitted = await intake.post(url, json={"status": "drafting", "note": "起草中"}, headers=supervisor)

    assert first.status_code == resubmitted.status_code == 202, first.text
    body = first.json()
    assert body["event_id"] == resubmitted.json()["event_id"]
    assert (body["item_kind"], body["status"], body["topic"]) == ("policy", "drafting", topics.PROGRAMME_EVENTS)

    def ours(value: bytes) -> bool:
        return json.loads(value).get("event_id") == body["event_id"]

    on_topic = await read_topic(
        servers.bootstrap_servers, topics.PROGRAMME_EVENTS, lambda kept: len(kept) >= 2, keep=ours
    )
    assert len(on_topic) == 2  # the resubmission put the same event on the bus a second time
    event = ProgrammeItemUpdated.model_validate_json(on_topic[0])
    assert (event.problem_id, event.item_kind, event.item_id, event.status) == (problem_id, "policy", "p1", "drafting")
    assert event.actor.startswith("programme-")
    # The same event produced once more by hand, and one naming a problem the programme does not have.
    unknown = event.model_copy(update={"event_id": uuid.uuid4(), "problem_id": f"unknown-{problem_id}"})
    await produce(
        servers.bootstrap_servers,
        topics.PROGRAMME_EVENTS,
        [(event.key(), event.to_bytes()), (unknown.key(), unknown.to_bytes())],
    )

    database = f"test_programme_{uuid.uuid4().hex[:10]}"
    env = {
        **worker_env,
        "MONGODB_DATABASE": database,
        "HOTLINE_METRICS_BATCH_WINDOW_SECONDS": "0.2",
        "HOTLINE_PROGRAMME_PATH": str(path),
    }
    client: AsyncMongoClient = AsyncMongoClient(servers.mongodb_uri, tz_aware=True)
    db = client[database]
    try:
        with run_service("services.metrics", env, tmp_path / "metrics.log") as proc:
            deadline = time.monotonic() + 90
            stored = None
            while time.monotonic() < deadline and proc.poll() is None and stored is None:
                stored = await db.programme.find_one({"_id": f"{problem_id}|policies|p1"})
                await asyncio.sleep(0.5)
            log = (tmp_path / "metrics.log").read_text(errors="replace")
            assert proc.poll() is None, log[-3000:]
            assert stored is not None, log[-3000:]

            def unfit(value: bytes) -> bool:
                return json.loads(value).get("key") == unknown.problem_id

            dead = await read_topic(servers.bootstrap_servers, topics.DEADLETTER, lambda kept: bool(kept), keep=unfit)
            assert len(dead) == 1
            letter = DeadLetter.model_validate_json(dead[0])
            assert (letter.service, letter.source_topic) == ("metrics", topics.PROGRAMME_EVENTS)
            assert "not in the programme" in letter.reason

            await asyncio.sleep(2)  # any copy in a later batch has been processed by now
            stored = present(await db.programme.find_one({"_id": f"{problem_id}|policies|p1"}))
            assert stored["version"] == 1, stored
            assert [(h["status"], h["event_id"]) for h in stored["history"]] == [("drafting", body["event_id"])]

        metrics_settings = MetricsSettings(
            programme_path=path,
            mongodb=settings.mongodb.model_copy(update={"database": database}),
            api_keys_file=tmp_path / "read-keys.json",
        )
        read_key = {"X-API-Key": create_key(metrics_settings.api_keys_file, "reader", (READ_ALL,))}
        metrics = create_metrics(metrics_settings, database=db)
        transport = httpx.ASGITransport(app=metrics)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics", headers=read_key) as reader:
            programme = (await reader.get("/v1/programme", params={"month": "2026-04"})).json()
        problem = next(p for p in programme["problems"] if p["id"] == problem_id)
        assert (problem["policies"][0]["status"], problem["policies"][0]["version"]) == ("drafting", 1)
        assert (problem["tasks"][0]["status"], problem["tasks"][0]["version"]) == ("planned", 0)
    finally:
        await client.drop_database(database)
        await client.close()
