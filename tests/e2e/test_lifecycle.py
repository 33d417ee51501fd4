"""End to end: every path of a case's life, across intake, classifier, router and metrics as processes.

The platform runs against the session's broker and database with a test copy of the dispatch
catalogue whose response deadlines are seconds long (so that "overdue" can be watched), and with one
re-dispatch allowed before manual dispatch (so that two returns lead to 人工派单). Units act with API
keys scoped to their queues, the supervisor with a supervisor key, all through intake's HTTP API.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hotline.platform import Platform, ensure_dev_key
from shared import topics
from shared.api_keys import CASES_ACT, SUPERVISOR, create_key
from shared.catalogue import DEFAULT_CATALOGUE_PATH
from shared.events import CallRouted, CaseOverdue
from shared.settings import ServiceSettings
from tests import factories
from tests.conftest import Servers
from tests.e2e.conftest import platform_on_session_servers
from tests.helpers import read_topic

pytestmark = pytest.mark.e2e

RESPONSE_HOURS = 0.002  # 7.2 seconds: long enough to act in time, short enough to watch a case go overdue


@dataclass
class Hotline:
    platform: Platform
    bootstrap: str
    calls_key: str
    supervisor_key: str

    @property
    def read(self) -> dict[str, str]:
        """The X-API-Key header of a read:all key of the metrics API (the console's)."""
        return {"X-API-Key": self.platform.service_keys["console"]}

    def key_for(self, queue_id: str) -> str:
        """An intake key acting for one unit (intake re-reads its key file, no restart)."""
        name = f"unit-{uuid.uuid4().hex[:6]}"
        return create_key(self.platform.api_keys_file, name, (CASES_ACT,), units=(queue_id,))

    def post_call(self, subject: str, body: str, address: str, phone: str) -> str:
        response = httpx.post(
            f"{self.platform.intake_url}/v1/calls",
            headers={"X-API-Key": self.calls_key},
            json=factories.submission(
                uuid.uuid4().hex,
                source_system="lifecycle-e2e",
                subject=subject,
                body=body,
                location={"address": address},
                contact_phone=phone,
            ),
            timeout=10,
        )
        assert response.status_code == 202, response.text
        return str(response.json()["call_id"])

    def step(self, call_id: str, key: str, kind: str, **fields: Any) -> httpx.Response:
        return httpx.post(
            f"{self.platform.intake_url}/v1/cases/{call_id}/events",
            headers={"X-API-Key": key},
            json={"kind": kind, **fields},
            timeout=10,
        )

    def case(self, call_id: str) -> dict[str, Any] | None:
        response = httpx.get(f"{self.platform.metrics_url}/v1/cases/{call_id}", headers=self.read, timeout=5)
        return dict(response.json()) if response.status_code == 200 else None

    def wait_case(self, call_id: str, until: Callable[[dict[str, Any]], bool], what: str, timeout: float = 45) -> dict:
        deadline = time.monotonic() + timeout
        case = None
        while time.monotonic() < deadline:
            case = self.case(call_id)
            if case is not None and until(case):
                return case
            time.sleep(0.1)
        raise AssertionError(f"case {call_id}: {what} not seen within {timeout}s; last: {case}")

    def take(self, call_id: str, key: str, kind: str, status: str, **fields: Any) -> dict[str, Any]:
        """Take a step through intake (202) and wait until the metrics store shows its result."""
        response = self.step(call_id, key, kind, **fields)
        assert response.status_code == 202, f"{kind}: {response.status_code} {response.text}"
        return self.wait_case(call_id, lambda c: c["status"] == status, f"status {status} after {kind}")

    def queue_case_ids(self, queue_id: str) -> set[str]:
        response = httpx.get(
            f"{self.platform.metrics_url}/v1/queues/{queue_id}/cases",
            params={"limit": 200},
            headers=self.read,
            timeout=5,
        )
        response.raise_for_status()
        return {c["call_id"] for c in response.json()["cases"]}


def _fast_deadline_catalogue(path: Path) -> Path:
    catalogue = yaml.safe_load(DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8"))
    for rule in catalogue["rules"]:
        if "response_hours" in rule.get("assign", {}):
            rule["assign"]["response_hours"] = RESPONSE_HOURS
    if "response_hours" in (catalogue.get("review") or {}):
        catalogue["review"]["response_hours"] = RESPONSE_HOURS
    catalogue["version"] = f"{catalogue['version']}-e2e-fast-deadlines"
    path.write_text(yaml.safe_dump(catalogue, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hotline(servers: Servers, settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    home = tmp_path_factory.mktemp("lifecycle-home")
    platform = platform_on_session_servers(servers, settings, home, "lifecycle")
    calls_key = ensure_dev_key(platform)
    supervisor_key = create_key(platform.api_keys_file, "supervisor-e2e", (SUPERVISOR,))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTLINE_CATALOGUE_PATH", str(_fast_deadline_catalogue(home / "catalogue.yaml")))
        env.setenv("HOTLINE_ROUTER_MAX_RETURNS", "1")
        env.setenv("HOTLINE_METRICS_DEADLINE_CHECK_SECONDS", "1")
        platform.start(timeout=120)
    try:
        yield Hotline(platform, servers.bootstrap_servers, calls_key, supervisor_key)
    finally:
        platform.stop()


def test_direct_dispatch_to_the_street_through_callback_and_close(hotline: Hotline) -> None:
    call_id = hotline.post_call(
        "小区垃圾无人清运", "通州区永顺镇某小区垃圾桶满了三天没人清运，气味很大。", "通州区永顺镇", "13600000001"
    )
    case = hotline.wait_case(call_id, lambda c: c["status"] == "dispatched", "dispatch")
    assert case["queue_id"] == "street:通州区/永顺镇" and case["assignment"]["unit_kind"] == "street"  # 直派

    street = hotline.key_for(case["queue_id"])
    hotline.take(call_id, street, "accepted", "accepted")
    hotline.take(call_id, street, "responded", "responded")
    hotline.take(call_id, street, "resolved", "resolved")
    assert hotline.step(call_id, street, "callback", callback_result="satisfied").status_code == 403  # supervisor's
    hotline.take(call_id, hotline.supervisor_key, "callback", "called_back", callback_result="satisfied")
    closed = hotline.take(call_id, hotline.supervisor_key, "closed", "closed")

    kinds = [step["kind"] for step in closed["history"]]
    assert kinds[-5:] == ["accepted", "responded", "resolved", "callback", "closed"]
    assert call_id not in hotline.queue_case_ids(case["queue_id"]), "a closed case no longer waits in the queue"
    # An illegal step is refused with the state machine's reason.
    refused = hotline.step(call_id, street, "accepted")
    assert refused.status_code in (403, 409) and refused.json()["detail"]


def test_wage_arrears_goes_to_the_labour_department_and_only_it_may_accept(hotline: Hotline) -> None:
    call_id = hotline.post_call(
        "拖欠工资",
        "我们在大兴区西红门镇的工地干了三个月，老板一直拖欠农民工工资不给。",
        "大兴区西红门镇",
        "13600000002",
    )
    case = hotline.wait_case(call_id, lambda c: c["status"] == "dispatched", "dispatch")
    assert case["assignment"]["unit_kind"] == "department"
    assert case["queue_id"] == "department:市人力资源和社会保障局劳动保障监察总队"
    assert "street:大兴区/西红门镇" in case["assignment"]["cooperating_units"]

    # A unit that neither leads nor cooperates is told nothing, not even that the case exists (docs/security.md).
    other_street = hotline.key_for("street:朝阳区/望京街道")
    refused = hotline.step(call_id, other_street, "accepted")
    assert refused.status_code == 404, refused.text
    assert "望京" not in refused.text and "劳动保障" not in refused.text
    hotline.take(call_id, hotline.key_for(case["queue_id"]), "accepted", "accepted")


def test_whistle_summons_two_departments_who_then_see_the_case_in_their_queues(hotline: Hotline) -> None:
    call_id = hotline.post_call(
        "小区路灯不亮",
        "海淀区中关村街道某小区内路灯坏了一个月，晚上出行不便，物业不管。",
        "海淀区中关村街道",
        "13600000003",
    )
    case = hotline.wait_case(call_id, lambda c: c["status"] == "dispatched", "dispatch")
    assert case["queue_id"] == "street:海淀区/中关村街道"
    street = hotline.key_for(case["queue_id"])
    hotline.take(call_id, street, "accepted", "accepted")

    summoned = ["department:市城市管理委员会", "department:市住房和城乡建设委员会"]
    response = hotline.step(call_id, street, "whistle", departments=summoned, note="需要城管委和住建委到场")
    assert response.status_code == 202, response.text
    case = hotline.wait_case(call_id, lambda c: set(summoned) <= set(c["queue_ids"]), "departments joining (报到)")
    assert set(summoned) <= set(case["assignment"]["cooperating_units"])
    for department in summoned:
        assert call_id in hotline.queue_case_ids(department), f"{department} does not see the case"
        # A cooperating department sees the case but the lead street takes the steps.
        assert hotline.step(call_id, hotline.key_for(department), "resolved").status_code == 403
    assert case["status"] == "accepted"


def test_two_returns_lead_to_manual_dispatch(hotline: Hotline) -> None:
    call_id = hotline.post_call(
        "楼道堆放杂物",
        "丰台区卢沟桥街道某小区楼道堆满杂物，存在消防隐患，希望街道清理。",
        "丰台区卢沟桥街道",
        "13600000004",
    )
    case = hotline.wait_case(call_id, lambda c: c["status"] == "dispatched", "dispatch")
    first_queue = case["queue_id"]

    # The router re-dispatches at once, so "returned" is a status the store passes through, not one to wait for.
    assert hotline.step(call_id, hotline.key_for(first_queue), "returned", note="不属于本单位职责").status_code == 202
    case = hotline.wait_case(
        call_id, lambda c: c["status"] == "dispatched" and c["queue_id"] != first_queue, "re-dispatch (attempt 2)"
    )
    assert case["assignment"]["attempt"] == 2
    second_queue = case["queue_id"]
    assert second_queue != "manual:dispatch"

    assert hotline.step(call_id, hotline.key_for(second_queue), "returned", note="也不属于本单位").status_code == 202
    case = hotline.wait_case(
        call_id, lambda c: c["status"] == "dispatched" and c["queue_id"] == "manual:dispatch", "manual dispatch"
    )
    assert call_id in hotline.queue_case_ids("manual:dispatch")
    assert call_id not in hotline.queue_case_ids(first_queue) | hotline.queue_case_ids(second_queue)
    returns = [step for step in case["history"] if step["kind"] == "returned"]
    assert [r.get("note") for r in returns] == ["不属于本单位职责", "也不属于本单位"]


def test_a_case_nobody_responds_to_goes_overdue_once(hotline: Hotline) -> None:
    call_id = hotline.post_call(
        "夜间施工噪音扰民",
        "朝阳区望京街道望京西园三区旁边的工地每天夜里十二点以后还在施工，噪音很大。",
        "朝阳区望京街道望京西园三区",
        "13600000005",
    )
    case = hotline.wait_case(call_id, lambda c: bool((c.get("overdue") or {}).get("response")), "overdue", timeout=60)
    queue = next(q for q in _queues(hotline) if q["queue_id"] == case["queue_id"])
    assert queue["overdue"] >= 1

    # Emitted once: wait a few more watcher rounds, then count the overdue events for this case.
    time.sleep(3)
    events = asyncio.run(
        read_topic(
            hotline.bootstrap,
            topics.CASES_OVERDUE,
            until=lambda kept: False,
            keep=lambda v: call_id.encode() in v,
            timeout=4,
        )
    )
    overdue = [CaseOverdue.model_validate_json(v) for v in events]
    assert [(o.deadline, o.queue_id) for o in overdue] == [("response", case["queue_id"])]


def test_a_duplicate_call_is_linked_to_the_open_case_and_the_link_can_be_undone(hotline: Hotline) -> None:
    subject, body = "小区路灯不亮", "西城区西长安街街道某小区路灯全都不亮了，晚上很黑。"
    first = hotline.post_call(subject, body, "西城区西长安街街道", "13600000006")
    hotline.wait_case(first, lambda c: c["status"] == "dispatched", "first call's dispatch")
    second = hotline.post_call(
        subject, "西长安街街道那个小区的路灯还是不亮，邻居也反映过。", "西城区西长安街街道", "13600000007"
    )

    linked = hotline.wait_case(second, lambda c: c["status"] == "linked", "duplicate link")
    assert linked["assignment"]["duplicate_of"] == first
    routed = asyncio.run(
        read_topic(
            hotline.bootstrap,
            topics.CALLS_ROUTED,
            until=lambda kept: len(kept) >= 1,
            keep=lambda v: second.encode() in v,
        )
    )
    assert str(CallRouted.model_validate_json(routed[0]).assignment.duplicate_of) == first

    hotline.step(second, hotline.supervisor_key, "unlinked").raise_for_status()
    undone = hotline.wait_case(second, lambda c: c["status"] == "dispatched", "dispatch after the link was undone")
    assert undone["assignment"].get("duplicate_of") is None


def _queues(hotline: Hotline) -> list[dict[str, Any]]:
    listed = httpx.get(f"{hotline.platform.metrics_url}/v1/queues", headers=hotline.read, timeout=5).json()
    return list(listed["queues"] if isinstance(listed, dict) else listed)


def test_a_return_naming_a_unit_goes_to_that_unit_and_not_our_area_to_the_district(hotline: Hotline) -> None:
    # Returns that listen: the reason names the transport commission, so it leads next (not the next candidate).
    call_id = hotline.post_call(
        "垃圾没人清运", "通州区永顺镇某小区门口垃圾桶满了三天没人清运，气味很大。", "通州区永顺镇", "13600000011"
    )
    case = hotline.wait_case(call_id, lambda c: c["status"] == "dispatched", "dispatch")
    first_queue = case["queue_id"]
    assert first_queue != "department:市交通委员会"
    note = "这是交通委的事，不归我们"
    assert hotline.step(call_id, hotline.key_for(first_queue), "returned", note=note).status_code == 202
    case = hotline.wait_case(call_id, lambda c: c["queue_id"] != first_queue, "re-dispatch to the unit named")
    assert case["queue_id"] == "department:市交通委员会"
    assert case["assignment"]["attempt"] == 2 and "交通委" in case["assignment"]["reason"]

    # "Not our area" from the street: the district sub-centre, which knows its streets, decides.
    call_id = hotline.post_call(
        "垃圾没人清运", "石景山区八角北里小区门口垃圾桶满了三天没人清运，气味很大。", "石景山区八角街道", "13600000012"
    )
    case = hotline.wait_case(call_id, lambda c: c["status"] == "dispatched", "dispatch")
    assert case["queue_id"] == "street:石景山区/八角街道"
    step = hotline.step(call_id, hotline.key_for(case["queue_id"]), "returned", note="不是我们辖区")
    assert step.status_code == 202
    case = hotline.wait_case(call_id, lambda c: c["queue_id"] != "street:石景山区/八角街道", "re-dispatch by place")
    assert case["queue_id"] == "district:石景山区"
