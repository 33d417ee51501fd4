"""The fault suite (issue 12): the whole platform on its embedded broker and database, a stream of calls
through intake while it SIGKILLs each worker, restarts the database, restarts the broker (topics created
again) and floods every input topic with poison, a supervisor taking case steps after the kills and after
the broker restart; then it proves what the product promises:

- every call accepted before the kills and after the broker came back is stored, and none is stored twice;
- every case step taken (202) was applied;
- ``hotline metrics rebuild --check`` finds no drift between the counters and the cases;
- every poison message is on ``hotline.deadletter.v1`` with its reason;
- the broker's loss was announced there (``broker lost``), and a normal call still flows.

It prints a table of faults x outcome. Bounded by default (``make test``: a few dozen calls, 20 poison
messages of each kind per topic); ``make faults`` runs it at full size (HOTLINE_FAULTS_CALLS,
HOTLINE_FAULTS_POISON: 1,000 each; HOTLINE_FAULTS_STEPS: 200).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import MongoClient

from hotline.embedded import ensure_topics, free_port
from hotline.platform import Platform, ensure_dev_key
from shared import topics
from shared.api_keys import SUPERVISOR, create_key
from shared.events import DeadLetter
from tests import poison
from tests.helpers import REPO, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(1800)]

CALLS_PER_BATCH = int(os.environ.get("HOTLINE_FAULTS_BATCH", "10"))
CALLS = int(os.environ.get("HOTLINE_FAULTS_CALLS", "60"))  # at least this many calls after the broker is back
POISON_PER_KIND = int(os.environ.get("HOTLINE_FAULTS_POISON", "20"))
STEPS = int(os.environ.get("HOTLINE_FAULTS_STEPS", "20"))  # case steps (签收) taken in each phase
WORKERS = ("classifier", "router", "metrics")


@dataclass
class Outcome:
    fault: str
    outcome: str
    ok: bool


@dataclass
class CallStream:
    """Posts batches of calls to intake from a thread, noting which were accepted (202/200) and when."""

    url: str
    key: str
    run: str
    accepted: list[tuple[float, str]] = field(default_factory=list)
    refused: int = 0
    sent: int = 0
    paused: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)

    def post_batch(self, client: httpx.Client) -> None:
        calls = [
            {
                "channel": "phone",
                "source_system": "faults",
                "external_id": f"{self.run}-{self.sent + i}",
                "subject": "路灯不亮",
                "body": f"大兴区西红门镇宏福路的路灯坏了一个星期，晚上很黑 {self.sent + i}",
                "location": {"address": "大兴区西红门镇宏福路"},
            }
            for i in range(CALLS_PER_BATCH)
        ]
        self.sent += len(calls)
        try:
            response = client.post("/v1/calls/batch", json={"calls": calls}, headers={"X-API-Key": self.key})
        except httpx.HTTPError:
            self.refused += len(calls)
            return
        if response.status_code != 200:
            self.refused += len(calls)
            return
        now = time.monotonic()
        for result in response.json()["results"]:
            if result["status"] == "accepted":
                self.accepted.append((now, result["call_id"]))

    def loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stopped.is_set():
                if not self.paused.is_set():
                    self.post_batch(client)
                time.sleep(0.3)

    def accepted_since(self, moment: float) -> list[str]:
        return [call_id for at, call_id in self.accepted if at >= moment]


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The platform as ``hotline up`` builds it from the environment: embedded broker and database of its own."""
    home = tmp_path / "home"
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "HOTLINE_HOME": str(home),
        "HOTLINE_INTAKE_PORT": str(free_port()),
        "HOTLINE_METRICS_PORT": str(free_port()),
        "HOTLINE_CONSOLE_PORT": str(free_port()),
        **{f"HOTLINE_{worker.upper()}_WEB_PORT": str(free_port()) for worker in WORKERS},
        "HOTLINE_INTAKE_API_KEYS_FILE": str(home / "api-keys.json"),
        "HOTLINE_CONSOLE_USERS_FILE": str(home / "console-users.json"),
        "MONGODB_DATABASE": "faults",
        "KAFKA_OFFSET_CHECK_SECONDS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    running = Platform.from_environment()
    running.cwd = REPO
    try:
        running.start(timeout=240)
        yield running
    finally:
        running.stop()


def kill_and_restart(platform: Platform, name: str) -> None:
    service = platform.services[name]
    assert service.proc is not None
    os.killpg(service.proc.pid, signal.SIGKILL)
    service.proc.wait(timeout=10)
    assert name in platform.restart_dead()


def exited(platform: Platform) -> list[str]:
    """The services not running now (the suite restarts only the ones it killed; any other exit is a crash)."""
    return [name for name, service in platform.services.items() if not service.running]


def worker_story(platform: Platform, lines: int = 12) -> str:
    """Each worker's log lines about the broker's loss, its group and its errors: where a stalled stage stood."""
    wanted = ("broker lost", "offset watch", "assigned partitions", "re-joining", "ERROR", "Traceback")
    story = []
    for name in WORKERS:
        path = platform.home / "logs" / f"{name}.log"
        text = path.read_text(errors="replace").splitlines() if path.exists() else []
        picked = [line[:300] for line in text if any(word in line for word in wanted)]
        story.append(f"--- {name}: {len(picked)} such lines, the last {lines}:\n" + "\n".join(picked[-lines:]))
    return "\n".join(story)


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"not reached after {timeout:.0f}s: {what}")


def stored(db: object, call_ids: list[str]) -> int:
    return sum(
        db.cases.count_documents({"_id": {"$in": call_ids[i : i + 50]}})  # type: ignore[attr-defined]
        for i in range(0, len(call_ids), 50)
    )


# The step a supervisor takes on a case in each status: accept (签收) one waiting in a queue, undo the link
# of a duplicate (the stream's calls look alike, so the router links many; unlinked sends them back to it).
STEP_FOR = {"dispatched": "accepted", "linked": "unlinked"}


def take_steps(url: str, key: str, db: object, call_ids: list[str]) -> dict[str, str]:
    """Up to STEPS case steps on these cases, as a supervisor; the ids answered 202, with their status before."""
    cases = db.cases.find({"_id": {"$in": call_ids}, "status": {"$in": list(STEP_FOR)}}, {"status": 1})  # type: ignore[attr-defined]
    taken: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for case in list(cases)[:STEPS]:
            step = {"kind": STEP_FOR[case["status"]], "note": "fault suite"}
            response = client.post(f"/v1/cases/{case['_id']}/events", json=step, headers={"X-API-Key": key})
            if response.status_code == 202:
                taken[case["_id"]] = case["status"]
    return taken


def applied(db: object, taken: dict[str, str]) -> int:
    """How many of these cases have left the status they had when their step was taken."""
    cases = db.cases.find({"_id": {"$in": list(taken)}}, {"status": 1})  # type: ignore[attr-defined]
    return sum(case["status"] != taken[case["_id"]] for case in cases)


async def flood(bootstrap: str, per_kind: int) -> tuple[dict[str, set[str]], int]:
    """Every kind of poison on every input topic; the keys the broker took, per topic, and how many it refused."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=4 * 1024 * 1024)
    await producer.start()
    taken: dict[str, set[str]] = {topic: set() for topic in poison.INPUT_TOPICS}
    refused = 0
    try:
        for topic in poison.INPUT_TOPICS:
            keyed = poison.messages(topic, per_kind)
            futures = [(key, await producer.send(topic, value, key=key)) for key, value in keyed]
            for key, future in futures:
                try:
                    await future
                    taken[topic].add(key.decode())
                except Exception:  # the broker's own size limit: never reaches a consumer
                    refused += 1
    finally:
        await producer.stop()
    return taken, refused


def call_id_of(value: bytes) -> str | None:
    """The ``call_id`` of an event on a topic; None for the flood's poison (not JSON, not an object)."""
    try:
        event = json.loads(value)
    except ValueError:
        return None
    return event.get("call_id") if isinstance(event, dict) else None


def on_topics(bootstrap: str, call_ids: set[str]) -> dict[str, int]:
    """How many of ``call_ids`` each stage's topic holds (where a call stopped, when one did)."""
    counts = {}
    for topic in (topics.CALLS_RECEIVED, topics.CALLS_CLASSIFIED, topics.CALLS_ROUTED):
        seen = asyncio.run(
            read_topic(bootstrap, topic, lambda _: False, keep=lambda v: call_id_of(v) in call_ids, timeout=10)
        )
        counts[topic] = len({call_id_of(v) for v in seen})
    return counts


def dead_letters(bootstrap: str, expected: set[str], timeout: float) -> dict[str, DeadLetter]:
    """The dead letters of the poison keys (first one of each) and of the broker's loss notices."""
    found: dict[str, DeadLetter] = {}

    def keep(value: bytes) -> bool:
        letter = DeadLetter.model_validate(json.loads(value))
        key = letter.key or f"notice-{letter.event_id}"
        if key.startswith("poison-") or "broker lost" in letter.reason:
            found.setdefault(key, letter)
        return False

    asyncio.run(read_topic(bootstrap, topics.DEADLETTER, lambda _: expected <= set(found), keep=keep, timeout=timeout))
    return found


def test_the_platform_survives_every_fault_and_says_what_it_lost(platform: Platform) -> None:
    started = time.monotonic()
    outcomes: list[Outcome] = []
    key = ensure_dev_key(platform)
    stream = CallStream(platform.intake_url, key, uuid.uuid4().hex[:8])
    poster = threading.Thread(target=stream.loop, daemon=True)
    poster.start()
    mongo: MongoClient = MongoClient(platform.mongodb_uri, serverSelectionTimeoutMS=60_000)
    db = mongo[platform.settings.mongodb.database]
    assert platform.stack is not None
    try:
        wait_until(lambda: len(stream.accepted) >= 2 * CALLS_PER_BATCH, 60, "calls accepted")
        for name in WORKERS:
            kill_and_restart(platform, name)
            outcomes.append(Outcome(f"SIGKILL {name}", "restarted by the supervisor", True))
            time.sleep(2)

        platform.stack.stop_database()
        time.sleep(3)
        platform.stack.start_database()
        outcomes.append(Outcome("database restart", "stopped 3 s, started on the same files", True))

        # Nothing accepted so far may be lost to the kills and the outage: wait until all of it is stored.
        so_far = [call_id for _, call_id in stream.accepted]
        wait_until(lambda: stored(db, so_far) == len(so_far), 240, f"{len(so_far)} calls stored after the kills")
        outcomes.append(Outcome("kills and database restart", f"{len(so_far)}/{len(so_far)} calls stored", True))
        supervisor = create_key(platform.api_keys_file, "faults-supervisor", (SUPERVISOR,))
        steps_before = take_steps(platform.intake_url, supervisor, db, so_far)
        wait_until(lambda: applied(db, steps_before) == len(steps_before), 120, "case steps applied")
        outcomes.append(
            Outcome(
                "case steps after the kills", f"{len(steps_before)}/{len(steps_before)} applied", bool(steps_before)
            )
        )

        before_broker = [call_id for _, call_id in stream.accepted]
        stream.paused.set()
        platform.stack.stop_broker()
        platform.stack.start_broker()
        asyncio.run(ensure_topics(platform.bootstrap_servers, topics.ALL_TOPICS, partitions=6, replication_factor=1))
        broker_back = time.monotonic()
        stream.paused.clear()
        wait_until(lambda: len(stream.accepted_since(broker_back)) >= CALLS, 60 + CALLS, "calls after the broker")

        taken, refused_by_broker = asyncio.run(flood(platform.bootstrap_servers, POISON_PER_KIND))
        stream.stopped.set()
        poster.join(timeout=60)

        with httpx.Client(base_url=platform.intake_url, timeout=30) as client:
            normal = client.post(
                "/v1/calls",
                json={
                    "channel": "phone",
                    "source_system": "faults",
                    "external_id": f"{stream.run}-after-poison",
                    "body": "朝阳区望京街道阜通东大街井盖丢失，很危险",
                },
                headers={"X-API-Key": key},
            )
        assert normal.status_code == 202, normal.text
        normal_id = normal.json()["call_id"]

        after = stream.accepted_since(broker_back)
        must_store = [*after, normal_id]
        try:
            wait_until(lambda: stored(db, must_store) == len(must_store), 180, f"{len(must_store)} calls stored")
        except AssertionError:
            raise AssertionError(
                f"{stored(db, must_store)}/{len(must_store)} stored; on the topics: "
                f"{on_topics(platform.bootstrap_servers, set(must_store))}; workers that exited: "
                f"{exited(platform) or 'none'}\n{worker_story(platform)}"
            ) from None
        outcomes.append(Outcome("broker restart", f"{len(after)}/{len(after)} calls accepted after it stored", True))
        before_stored = stored(db, before_broker)
        outcomes.append(
            Outcome(
                "broker restart (before)",
                f"{before_stored}/{len(before_broker)} calls accepted before it stored; the rest were only on the broker (lost, announced per partition)",
                True,
            )
        )
        outcomes.append(Outcome("normal call after poison", "stored", True))
        steps_after = take_steps(platform.intake_url, supervisor, db, after)
        wait_until(lambda: applied(db, steps_after) == len(steps_after), 120, "case steps applied after the broker")
        outcomes.append(
            Outcome(
                "case steps after the broker restart",
                f"{len(steps_after)}/{len(steps_after)} applied",
                bool(steps_after),
            )
        )

        run_cases = db.cases.count_documents({"call.source_system": "faults"})
        distinct = stored(db, sorted({call_id for _, call_id in stream.accepted} | {normal_id}))
        outcomes.append(
            Outcome("nothing doubled", f"{run_cases} cases for {distinct} distinct stored calls", run_cases == distinct)
        )

        expected_keys = {k for keys in taken.values() for k in keys}
        letters = dead_letters(platform.bootstrap_servers, expected_keys, timeout=120 + POISON_PER_KIND / 5)
        for topic in poison.INPUT_TOPICS:
            for kind in poison.KINDS:
                keys = {k for k in taken[topic] if f"-{kind}-" in k}
                lettered = {k for k in keys if k in letters and letters[k].reason}
                owner = poison.OWNERS[topic]
                ok = lettered == keys and all(letters[k].service == owner for k in lettered)
                outcomes.append(
                    Outcome(f"poison {kind} on {topic}", f"{len(lettered)}/{len(keys)} dead-lettered by {owner}", ok)
                )
        if refused_by_broker:
            outcomes.append(Outcome("poison too large for the broker", f"{refused_by_broker} refused at produce", True))
        notices = [letter for k, letter in letters.items() if not k.startswith("poison-")]
        outcomes.append(Outcome("loss announced", f"{len(notices)} 'broker lost' dead letters", bool(notices)))

        check = subprocess.run(
            [sys.executable, "-m", "hotline.cli", "metrics", "rebuild", "--check"],
            cwd=REPO,
            env={**platform.env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        said = (check.stdout.strip().splitlines() or [check.stderr[-200:]])[-1]
        outcomes.append(Outcome("metrics rebuild --check", said, check.returncode == 0))
        gone = exited(platform)
        outcomes.append(Outcome("no worker exited on its own", f"exited: {gone or 'none'}", not gone))
    finally:
        stream.stopped.set()
        mongo.close()
        table = "\n".join(f"{o.fault:<55} {'ok ' if o.ok else 'FAIL'} {o.outcome}" for o in outcomes)
        report = (
            f"fault suite ({time.monotonic() - started:.0f}s, {CALLS} calls, {POISON_PER_KIND} poison/kind):\n{table}"
        )
        print(report)
        (platform.home / "faults-report.txt").write_text(report + "\n")
    assert all(o.ok for o in outcomes), table
