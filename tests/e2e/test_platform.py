"""End to end: `hotline up` (what `make run` calls) on its embedded default, driven as a user would.

It starts the broker, the database and the services as processes; a call posted through HTTP must be
classified, routed and waiting in the right queue; a downstream system reads it from the routed topic
with a plain AIOKafkaConsumer; Ctrl-C stops everything (no orphan process, no port left bound); and the
database's data survives a restart.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from hotline.embedded import free_port
from hotline.platform import metrics_read_headers
from shared import topics
from shared.events import CallRouted
from tests import factories
from tests.helpers import REPO, read_topic

pytestmark = pytest.mark.e2e

WAGE_ARREARS = {
    "source_system": "e2e",
    "subject": "拖欠工资",
    "body": "我们在大兴区西红门镇的工地干了三个月，老板一直拖欠农民工工资不给，一共117个人，请求劳动监察帮忙讨薪。",
    "location": {"address": "大兴区西红门镇宏福苑小区旁边的工地"},
    "contact_phone": "13812345678",
}


@dataclass
class Running:
    proc: subprocess.Popen
    output: list[str]
    intake_url: str
    console_url: str
    api_key: str
    bootstrap: str
    mongodb_uri: str
    ports: list[int]
    read_headers: dict[str, str]  # a read:all key of the metrics API (the console's, made by hotline up)


def _start_up(home: Path, log: Path) -> Running:
    intake_port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")}
    env.update(
        HOTLINE_HOME=str(home),
        HOTLINE_INTAKE_PORT=str(intake_port),
        HOTLINE_METRICS_PORT=str(metrics_port),
        PYTHONUNBUFFERED="1",
    )
    env["HOTLINE_INTAKE_API_KEYS_FILE"] = str(home / "api-keys.json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "up"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    deadline = time.monotonic() + 180
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    text = "".join(output)
    log.write_text(text)
    assert "Hotline is running" in text, f"hotline up did not start:\n{text}"
    assert "A probe call went end to end in" in text, text  # "running" only after the probe (hotline.readiness)
    key = re.search(r"Development API key:\s+(\S+)", text)
    kafka = re.search(r"embedded Tansu at (\S+)", text)
    mongo = re.search(r"embedded SecantusDB at (\S+)", text)
    assert key and kafka and mongo, text
    broker_port = int(kafka.group(1).rsplit(":", 1)[1])
    db_port = int(re.search(r":(\d+)/", mongo.group(1)).group(1))  # type: ignore[union-attr]
    return Running(
        proc=proc,
        output=output,
        intake_url=f"http://127.0.0.1:{intake_port}",
        console_url=f"http://127.0.0.1:{metrics_port}",
        api_key=key.group(1),
        bootstrap=kafka.group(1),
        mongodb_uri=mongo.group(1),
        ports=[intake_port, metrics_port, broker_port, db_port],
        read_headers=metrics_read_headers(home),
    )


async def _category_count(console_url: str, case: dict, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient(base_url=console_url, timeout=5, headers=headers) as client:
        response = await client.get("/v1/metrics/monthly", params={"month": case["month"], "dimension": "category"})
        response.raise_for_status()
        counts = {c["value"]: c["count"] for c in response.json()["counts"]}
    return counts.get(case["classification"]["category"], 0)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _port_bound(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(running: Running) -> None:
    running.proc.send_signal(signal.SIGINT)
    running.proc.wait(timeout=60)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "hotline-home"


async def _wait_for_queue_case(
    console_url: str, call_id: str, headers: dict[str, str], timeout: float = 30.0
) -> tuple[dict, float]:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=console_url, timeout=5, headers=headers) as client:
        while time.monotonic() - started < timeout:
            response = await client.get(f"/v1/cases/{call_id}")
            if response.status_code == 200:
                return response.json(), time.monotonic() - started
            await asyncio.sleep(0.05)
    raise AssertionError(f"case {call_id} not visible in the metrics read API after {timeout}s")


def test_make_run_serves_a_call_from_intake_to_its_queue_and_stops_cleanly(home: Path, tmp_path: Path) -> None:
    running = _start_up(home, tmp_path / "up-1.log")
    children = _children(running.proc.pid)
    try:
        assert len(children) >= 7, f"expected database, broker and five services, got {children}"
        external_id = f"e2e-{uuid.uuid4().hex[:8]}"
        call_id, case, seconds = asyncio.run(_post_and_follow(running, external_id))

        # The case waits in the labour-enforcement department's queue (委办局), with the street cooperating.
        assignment = case["assignment"]
        assert assignment["unit_kind"] == "department"
        assert "劳动" in assignment["unit_name"] or "人力资源" in assignment["unit_name"]
        assert case["classification"]["category"] == "劳动和社会保障"
        assert "13812345678" not in str(case)
        print(f"visible in the queue {seconds * 1000:.0f} ms after 202")

        # A downstream system reads the routed event from the topic with a plain consumer.
        values = asyncio.run(
            read_topic(
                running.bootstrap,
                topics.CALLS_ROUTED,
                until=lambda kept: len(kept) >= 1,
                keep=lambda v: call_id.encode() in v,
            )
        )
        routed = CallRouted.model_validate_json(values[0])
        assert str(routed.call_id) == call_id
        assert routed.assignment.queue_id == assignment["queue_id"]

        # The queue listing shows the case waiting.
        queues = httpx.get(f"{running.console_url}/v1/queues", headers=running.read_headers, timeout=5).json()
        listed = queues["queues"] if isinstance(queues, dict) else queues
        queue = next(q for q in listed if q["queue_id"] == assignment["queue_id"])
        assert queue["depth"] >= 1
        # Without a read key the read API shows no one anything (issue 12): 401, not the citizen's words.
        anonymous = httpx.get(f"{running.console_url}/v1/cases/{call_id}", timeout=5)
        assert anonymous.status_code == 401 and "拖欠" not in anonymous.text
    finally:
        _stop(running)

    assert running.proc.returncode == 0, "".join(running.output)
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == [], "orphan processes left after Ctrl-C"
    assert [port for port in running.ports if _port_bound(port)] == [], "ports still bound after Ctrl-C"

    # The database keeps its data across a restart (the embedded broker is memory-only by design).
    again = _start_up(home, tmp_path / "up-2.log")
    try:
        assert again.api_key == running.api_key, "the development key should survive a restart"
        response = httpx.get(f"{again.console_url}/v1/cases/{call_id}", headers=again.read_headers, timeout=5)
        assert response.status_code == 200
        assert response.json()["assignment"]["queue_id"] == assignment["queue_id"]
    finally:
        _stop(again)


async def _post_and_follow(running: Running, external_id: str) -> tuple[str, dict, float]:
    async with httpx.AsyncClient(base_url=running.intake_url, headers={"X-API-Key": running.api_key}) as client:
        response = await client.post("/v1/calls", json=factories.submission(external_id, **WAGE_ARREARS))
        assert response.status_code == 202, response.text
        call_id = response.json()["call_id"]
        again = await client.post("/v1/calls", json=factories.submission(external_id, **WAGE_ARREARS))
        assert again.status_code == 202 and again.json()["call_id"] == call_id
    case, seconds = await _wait_for_queue_case(running.console_url, call_id, running.read_headers)

    # The call was submitted twice, so it flowed through the pipeline twice; once both routed events are
    # on the topic and the metrics worker has had time for them, the case is still counted once.
    routed = await read_topic(
        running.bootstrap, topics.CALLS_ROUTED, until=lambda kept: len(kept) >= 2, keep=lambda v: call_id.encode() in v
    )
    assert len(routed) == 2
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(running.mongodb_uri)
    try:
        cases = mongo["hotline"]["cases"]
        for _ in range(20):
            assert await cases.count_documents({}) == 1
            counted = await _category_count(running.console_url, case, running.read_headers)
            assert counted == 1, f"the duplicate was counted: {counted}"
            await asyncio.sleep(0.1)
    finally:
        await mongo.close()
    return call_id, case, seconds
