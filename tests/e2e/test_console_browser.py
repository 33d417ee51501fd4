"""End to end in a real headless Chromium: the operator console over the whole platform.

The platform's processes (intake, classifier, router, metrics, metrics API, console) run against the
session's broker and database; Debian's ``chromium`` is driven by Playwright through its
``executable_path`` (``playwright install`` is never needed). Screenshots of the main pages go to
``test-artifacts/screenshots/``.

Size: ~980 lines — every test shares one module-scoped platform and one Chromium (started once, the
slowest part of the suite); split into files, each would start its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import csv
import http.server
import io
import itertools
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.platform import Platform, ensure_demo_supervisor, ensure_dev_key
from services.console.users import Role, add_user_with_intake_key
from shared.settings import ServiceSettings
from tests import factories
from tests.conftest import Servers
from tests.e2e.conftest import platform_on_session_servers
from tests.helpers import REPO

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"
NO_DUPLICATE_LINKING = ("HOTLINE_ROUTER_DUPLICATE_WINDOW_HOURS", "0")

NOISE = {
    "source_system": "console-e2e",
    "subject": "夜间施工噪音扰民",
    "body": "朝阳区望京街道望京西园三区旁边的工地每天夜里十二点以后还在施工，噪音很大，影响居民休息，我的电话13912345678。",
    "location": {"address": "朝阳区望京街道望京西园三区"},
    "contact_phone": "13912345678",
}


@dataclass
class Console:
    platform: Platform
    url: str
    intake_url: str
    metrics_url: str
    dev_key: str
    supervisor: tuple[str, str]
    queue_id: str
    queue_kind: str


GAS_LEAK = {
    "subject": "燃气管道漏气",
    "body": "朝阳区望京街道望京西园三区小区燃气管道漏气，闻到燃气味，担心爆炸，请燃气集团立即抢修燃气管线，我的电话13912345678。",
}


def _post_call(console: Console, external_id: str, **fields: Any) -> str:
    response = httpx.post(
        f"{console.intake_url}/v1/calls",
        json=factories.submission(external_id, **{**NOISE, **fields}),
        headers={"X-API-Key": console.dev_key},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["call_id"])


def _read(console: Console) -> dict[str, str]:
    """The X-API-Key header of a read:all key of the metrics API (the console's own, made by the platform)."""
    return {"X-API-Key": console.platform.service_keys["console"]}


def _wait_case(console: Console, call_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(f"{console.metrics_url}/v1/cases/{call_id}", headers=_read(console), timeout=5)
        if response.status_code == 200:
            return dict(response.json())
        time.sleep(0.1)
    raise AssertionError(f"case {call_id} never reached the metrics store")


@pytest.fixture(scope="module")
def console(servers: Servers, settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The whole platform against the session servers, on free ports, with its own database."""
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: `make test` installs it (apt-get install -y chromium)")
    home = tmp_path_factory.mktemp("console-home")
    platform = platform_on_session_servers(servers, settings, home, "console")
    dev_key = ensure_dev_key(platform)
    supervisor = ensure_demo_supervisor(platform)
    # The test posts the same complaint many times: with duplicate linking on, the router would rightly link
    # each repeat to the first open case instead of queueing it. The console is under test here, not that.
    saved = os.environ.get(NO_DUPLICATE_LINKING[0])
    os.environ[NO_DUPLICATE_LINKING[0]] = NO_DUPLICATE_LINKING[1]
    try:
        platform.start(timeout=120)
        console = Console(
            platform, platform.console_url, platform.intake_url, platform.metrics_url, dev_key, supervisor, "", ""
        )
        # Warm up the pipeline (consumer groups join, models load) and learn the queue such calls go to.
        warm = _wait_case(console, _post_call(console, f"warm-{uuid.uuid4().hex[:8]}"), timeout=90)
        console.queue_id = warm["queue_id"]
        console.queue_kind = warm["assignment"]["unit_kind"]
        yield console
    finally:
        platform.stop()
        if saved is None:
            os.environ.pop(NO_DUPLICATE_LINKING[0], None)
        else:
            os.environ[NO_DUPLICATE_LINKING[0]] = saved


def _add_user(console: Console, name: str, role: Role, queue: str | None) -> str:
    add_user_with_intake_key(
        console.platform.console_users_file,
        console.platform.api_keys_file,
        name=name,
        role=role,
        queue=queue,
        password=PASSWORD,
    )
    return name


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _sign_in(browser: Any, console: Console, user: str, password: str = PASSWORD, *, viewport: dict | None = None):
    context = browser.new_context(viewport=viewport or {"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{console.url}/queues")
    assert "/login" in page.url, "an anonymous visitor must be sent to the sign-in page"
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.url}/queues")
    return context, page


def _screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _unit_role(console: Console) -> Role:
    return Role.street if console.queue_kind == "street" else Role.department


def test_a_wrong_password_is_refused_and_nothing_is_reachable_without_signing_in(console: Console) -> None:
    with httpx.Client(base_url=console.url, timeout=10) as client:
        assert client.get("/queues").status_code == 303
        assert client.get(f"/queues/{console.queue_id}").headers["location"].startswith("/login")
        assert client.get("/live/queues").status_code == 401
        refused = client.post(
            "/login",
            data={"user": console.supervisor[0], "password": "wrong-password"},
            headers={"Origin": console.url},
        )
        assert refused.status_code == 401
        assert "/queues" not in refused.headers.get("location", "")


def test_a_call_posted_through_intake_appears_in_the_open_queue_page_within_two_seconds(
    console: Console, browser: Any
) -> None:
    operator = _add_user(console, f"op-{uuid.uuid4().hex[:6]}", _unit_role(console), console.queue_id)
    context, page = _sign_in(browser, console, operator)
    try:
        # The operator's queues page lists its own queue only.
        listed = page.locator("#queues tbody tr").evaluate_all("rows => rows.map(r => r.dataset.queueId)")
        assert listed == [console.queue_id]
        _screenshot(page, "queues-operator")

        page.goto(f"{console.url}/queues/{console.queue_id}")
        page.wait_for_function(
            "document.getElementById('live') && !document.getElementById('live').classList.contains('off')"
        )
        depth_before = int(page.inner_text("#depth"))
        time.sleep(0.5)  # the live feed has sent its first snapshot

        call_id = _post_call(console, f"live-{uuid.uuid4().hex[:8]}")
        posted = time.monotonic()
        in_store = _seconds_until_listed(console, call_id, posted, budget=2.0)
        seconds: float | None = None
        try:
            page.wait_for_selector(
                f'tr[data-call-id="{call_id}"]', timeout=max(1, 2000 - (time.monotonic() - posted) * 1000)
            )
            seconds = time.monotonic() - posted
        finally:
            shown = "not within 2 s" if seconds is None else f"{seconds * 1000:.0f} ms"
            stored = "not within 2 s" if in_store is None else f"{in_store * 1000:.0f} ms"
            print(f"\nafter intake's 202: in the metrics API's queue listing {stored}; in the open page {shown}")
        page.wait_for_function(f"Number(document.getElementById('depth').textContent) > {depth_before}", timeout=2000)

        row = page.locator(f'tr[data-call-id="{call_id}"]')
        assert "13912345678" not in row.inner_text() and "139****5678" in row.inner_text()
        _screenshot(page, "queue")
    finally:
        context.close()


def _seconds_until_listed(console: Console, call_id: str, since: float, *, budget: float) -> float | None:
    """How long after ``since`` the metrics read API lists the case in its queue (None: not within budget)."""
    while time.monotonic() - since < budget:
        cases = httpx.get(
            f"{console.metrics_url}/v1/queues/{console.queue_id}/cases",
            params={"limit": 500},
            headers=_read(console),
            timeout=5,
        )
        if any(c["call_id"] == call_id for c in cases.json()["cases"]):
            return time.monotonic() - since
        time.sleep(0.02)
    return None


def test_an_operator_cannot_open_another_units_queue_or_case_by_url(console: Console, browser: Any) -> None:
    other_street = (
        "street:东城区/东华门街道" if console.queue_id != "street:东城区/东华门街道" else "street:西城区/西长安街街道"
    )
    outsider = _add_user(console, f"out-{uuid.uuid4().hex[:6]}", Role.street, other_street)
    call_id = _wait_case(console, _post_call(console, f"own-{uuid.uuid4().hex[:8]}"))["call_id"]
    context, page = _sign_in(browser, console, outsider)
    try:
        response = page.goto(f"{console.url}/queues/{console.queue_id}")
        assert response is not None and response.status == 403
        assert call_id not in page.content()
        response = page.goto(f"{console.url}/cases/{call_id}")
        assert response is not None and response.status == 404
        response = page.request.get(f"{console.url}/rows/{console.queue_id}")
        assert response.status == 403
        response = page.request.post(
            f"{console.url}/cases/{call_id}/steps", form={"kind": "accepted"}, headers={"Origin": console.url}
        )
        assert response.status == 404
        # Its own (empty) queue is fine.
        response = page.goto(f"{console.url}/queues/{other_street}")
        assert response is not None and response.status == 200
    finally:
        context.close()


def test_a_cooperating_department_sees_the_case_but_not_the_street_queue(console: Console, browser: Any) -> None:
    case = _wait_case(console, _post_call(console, f"coop-{uuid.uuid4().hex[:8]}"))
    cooperating = [q for q in case["assignment"]["cooperating_units"] if q.startswith("department:")]
    if console.queue_kind != "street" or not cooperating:
        pytest.skip(f"the catalogue names no cooperating department for {console.queue_id}")
    department = _add_user(console, f"dep-{uuid.uuid4().hex[:6]}", Role.department, cooperating[0])
    context, page = _sign_in(browser, console, department)
    try:
        response = page.goto(f"{console.url}/cases/{case['call_id']}")
        assert response is not None and response.status == 200
        assert page.locator("form.step").count() == 0, "the lead unit takes the steps, not a cooperating one"
        response = page.goto(f"{console.url}/queues/{console.queue_id}")
        assert response is not None and response.status == 403
    finally:
        context.close()


def test_the_supervisor_sees_every_queue_and_the_scoreboard_in_both_languages(console: Console, browser: Any) -> None:
    context, page = _sign_in(browser, console, console.supervisor[0], console.supervisor[1])
    try:
        queues = httpx.get(f"{console.metrics_url}/v1/queues", headers=_read(console), timeout=5).json()["queues"]
        listed = page.locator("#queues tbody tr").evaluate_all("rows => rows.map(r => r.dataset.queueId)")
        assert sorted(listed) == sorted(q["queue_id"] for q in queues)
        assert page.inner_text("h1").startswith("队列")
        _screenshot(page, "queues-supervisor")

        page.goto(f"{console.url}/scoreboard?lang=en")
        assert page.inner_text("h1").startswith("Scoreboard")
        assert page.locator("#mom svg.chart").count() == 1, "the month-on-month chart is drawn as inline SVG"
        assert page.locator("#top-ten tbody tr").count() >= 1
        offered = httpx.get(f"{console.metrics_url}/openapi.json", timeout=5).json()["paths"]
        for path, section in (
            ("/v1/scoreboard/units", "#rates"),
            ("/v1/programme", "#programme"),
            ("/v1/hotspots", "#hot-spots"),
        ):
            if path in offered:
                assert page.locator(f"{section} .na").count() == 0, f"{section} says not available though {path} exists"
        if "/v1/scoreboard/units" in offered:
            assert page.locator(f'#rates tr[data-unit-id="{console.queue_id}"]').count() == 1
            # One unit month by month (issue 14): its name in the table opens its chart, six months, each
            # against the month before, labelled by month, in both languages and not clipped.
            page.click(f'#rates tr[data-unit-id="{console.queue_id}"] a.unit-link')
            page.wait_for_selector(f'#unit-months[data-unit="{console.queue_id}"] svg.chart')
            labels = page.locator("#unit-months svg text[text-anchor=end]").evaluate_all(
                "texts => texts.map(t => t.firstChild.textContent)"
            )
            assert len(labels) == 6 and all(re.fullmatch(r"\d{4}-\d{2}", label) for label in labels), labels
            assert "requests month by month" in page.inner_text("#unit-months h2")
            assert (
                page.evaluate(
                    "[...document.querySelectorAll('#unit-months svg text')].filter(t => t.getBBox().x < 0).length"
                )
                == 0
            )
            _screenshot(page, "scoreboard-unit-en")
            page.goto(f"{console.url}/scoreboard?lang=zh&unit={console.queue_id}")
            assert "逐月诉求量" in page.inner_text("#unit-months h2")
            _screenshot(page, "scoreboard-unit-zh")
            page.goto(f"{console.url}/scoreboard?lang=en")
            _check_rates_are_over_due_cases_and_ranks_differ_only_by_score(console, page)
            assert page.locator('#rates [data-kind="district"] tr[data-unit-id]').count() >= 1, "a district table"
        assert page.locator("#district-map svg path[data-district]").count() == 16, "the 16 districts, no tiles"
        assert page.locator("#unit-mom svg.chart, #unit-mom .sub").count() >= 1
        # Issue 14: the chart's English labels were clipped at its left edge.
        clipped = page.evaluate(
            "[...document.querySelectorAll('#mom svg text')].filter(t => t.getBBox().x < 0).map(t => t.textContent)"
        )
        assert clipped == [], clipped
        _screenshot(page, "scoreboard-en")
        page.goto(f"{console.url}/scoreboard?lang=zh")
        summary = page.locator("#trend-summary")
        if summary.count():
            assert "problems fell" not in summary.inner_text(), "the summary is in the page's language"
        _screenshot(page, "scoreboard")
        page.goto(f"{console.url}/scoreboard?lang=en")

        page.goto(f"{console.url}/queues")  # the language is remembered in a cookie
        assert page.inner_text("h1").startswith("Queues")
        page.set_viewport_size({"width": 3840, "height": 2160})
        _screenshot(page, "queues-wall-screen")
    finally:
        context.close()


def _check_rates_are_over_due_cases_and_ranks_differ_only_by_score(console: Console, page: Any) -> None:
    """Issue 14: cases minutes old read 0.0% (rates over cases not yet due) and every unit tied at rank 1."""
    units = httpx.get(
        f"{console.metrics_url}/v1/scoreboard/units", params={"kind": "street"}, headers=_read(console), timeout=5
    ).json()["units"]
    for unit in units:
        row = page.locator(f'#rates [data-kind="street"] tr[data-unit-id="{unit["unit_id"]}"]')
        if not row.count():
            continue  # beyond the rows shown
        cells = row.locator("td").all_inner_texts()
        if not unit["counts"].get("response_due"):
            assert cells[2] == "—", f"{unit['unit_id']}: nothing due yet must read —, not {cells[2]}"
        if unit["composite"] is None:
            assert cells[0] == "—"
    ranked = [u for u in units if u["rank"] is not None]
    for a, b in itertools.pairwise(ranked):
        assert (a["rank"] == b["rank"]) == (a["composite"] == b["composite"]), (a, b)


def _intake_offers_case_steps(console: Console) -> bool:
    paths = httpx.get(f"{console.intake_url}/openapi.json", timeout=5).json().get("paths", {})
    return "/v1/cases/{call_id}/events" in paths


def _take_step(page: Any, console: Console, call_id: str, step: str, status: str, **fields: str) -> None:
    """Click a step's button on the case page and wait until the metrics store shows the new status."""
    form = page.locator(f'form.step[data-step="{step}"]')
    for name, value in fields.items():
        form.locator(f'[name="{name}"]').fill(value)
    form.locator("button").click()
    page.wait_for_url(f"**/cases/{call_id}?done={step}*")
    # The page follows the step by itself until the metrics store shows it: no reload by the test.
    page.wait_for_selector(f'#case-status[data-status="{status}"]', timeout=5000)
    page.wait_for_selector('#done[data-pending="0"]', timeout=5000)


def _offered(page: Any) -> list[str]:
    return list(page.locator("form.step").evaluate_all("forms => forms.map(f => f.dataset.step)"))


def _unit_counts(console: Console, month: str) -> dict[str, int]:
    kind = "street" if console.queue_kind == "street" else "department"
    body = httpx.get(
        f"{console.metrics_url}/v1/scoreboard/units",
        params={"month": month, "kind": kind},
        headers=_read(console),
        timeout=5,
    )
    found = [u for u in body.json()["units"] if u["unit_id"] == console.queue_id]
    return dict(found[0]["counts"]) if found else {}


def test_steps_taken_in_the_page_change_the_case_and_the_counts(console: Console, browser: Any) -> None:
    operator = _add_user(console, f"acc-{uuid.uuid4().hex[:6]}", _unit_role(console), console.queue_id)
    case = _wait_case(console, _post_call(console, f"acc-{uuid.uuid4().hex[:8]}"))
    call_id = case["call_id"]
    context, page = _sign_in(browser, console, operator)
    try:
        page.goto(f"{console.url}/cases/{call_id}")
        assert page.get_attribute("#case-status", "data-status") == "dispatched"
        offered = _offered(page)
        assert "accepted" in offered and "callback" not in offered and "closed" not in offered
        assert "139****5678" in page.inner_text("#words")
        _screenshot(page, "case")
        if not _intake_offers_case_steps(console):
            pytest.xfail("intake does not offer POST /v1/cases/{call_id}/events yet (issue 4)")

        # The queue stays open in a second tab: it must follow the steps without reload.
        queue_page = context.new_page()
        queue_page.goto(f"{console.url}/queues/{console.queue_id}")
        queue_page.wait_for_selector(f'tr[data-call-id="{call_id}"]')
        depth_before = _queue(console)["depth"]
        counts_before = _unit_counts(console, case["month"])

        _take_step(page, console, call_id, "accepted", "accepted")
        assert "accepted" not in _offered(page) and "responded" in _offered(page)

        # A step intake refuses shows intake's own reason (here: a department the catalogue does not know).
        if console.queue_kind == "street":
            form = page.locator('form.step[data-step="whistle"]')
            form.locator('[name="departments"]').fill("department:不存在的局")
            form.locator("button").click()
            assert "不存在的局" in page.inner_text("#refused")
            _screenshot(page, "case-refused")
            page.goto(f"{console.url}/cases/{call_id}")

        _take_step(page, console, call_id, "responded", "responded")
        _take_step(page, console, call_id, "resolved", "resolved")
        assert _offered(page) == [], "a resolved case waits for the supervisor's callback"
        _screenshot(page, "case-resolved")

        # Resolved: out of the queue's depth, gone from the open queue page, and counted for the unit.
        queue_page.wait_for_selector(f'tr[data-call-id="{call_id}"]', state="detached", timeout=5000)
        assert _queue(console)["depth"] == depth_before - 1
        counts_after = _unit_counts(console, case["month"])
        assert counts_after.get("resolved", 0) == counts_before.get("resolved", 0) + 1, (counts_before, counts_after)
        assert counts_after.get("responded", counts_after.get("responded_on_time", 0)) > counts_before.get(
            "responded", counts_before.get("responded_on_time", 0)
        )

        # A stale submission of a step no longer legal is refused with the reason, not forwarded blindly.
        response = page.request.post(
            f"{console.url}/cases/{call_id}/steps", form={"kind": "accepted"}, headers={"Origin": console.url}
        )
        assert response.status in (403, 409)
        assert 'id="refused"' in response.text()
    finally:
        context.close()


def _queue(console: Console) -> dict[str, Any]:
    queues = httpx.get(f"{console.metrics_url}/v1/queues", headers=_read(console), timeout=5).json()["queues"]
    found = dict(next(q for q in queues if q["queue_id"] == console.queue_id))
    if found.get("oldest_waiting"):
        found["oldest_waiting"] = {k: v for k, v in found["oldest_waiting"].items() if k != "age_seconds"}
    return found


def test_a_queue_with_many_open_cases_shows_its_depth_its_first_rows_and_finds_words(
    console: Console, browser: Any
) -> None:
    """A thousand open cases in one queue: the page shows the depth, the first 200 rows, the next 200 by its
    keyset cursor, and a word search over the queue finds its cases (how fast: ``hotline bench console --open N``, docs/performance.md)."""
    from pymongo import AsyncMongoClient

    from hotline.bench_metrics import synthetic_events
    from services.metrics.repository import MetricsRepository

    run = uuid.uuid4().hex[:8]
    size = 1000
    events = synthetic_events(size, queues=1, run=run, spread="uniform")
    queue_id = events[0].assignment.queue_id

    async def insert() -> int:
        client: AsyncMongoClient = AsyncMongoClient(console.platform.mongodb_uri, tz_aware=True)
        try:
            repository = MetricsRepository(client[console.platform.settings.mongodb.database])
            return await repository.apply_routed(events)
        finally:
            await client.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        assert pool.submit(asyncio.run, insert()).result() == size
    context, page = _sign_in(browser, console, console.supervisor[0], console.supervisor[1])
    try:
        response = page.goto(f"{console.url}/queues/{queue_id}", wait_until="load")
        assert response is not None and response.status == 200
        assert page.inner_text("#depth") == str(size)
        rows = page.locator("#case-rows tr[data-call-id]")
        assert rows.count() == 200
        first = [rows.nth(i).get_attribute("data-call-id") for i in range(200)]
        page.click("#next-page")  # the next 200 by the keyset cursor: the cases received after the page's last
        page.wait_for_selector("#first-page")
        second = [rows.nth(i).get_attribute("data-call-id") for i in range(rows.count())]
        assert len(second) == 200 and not set(first) & set(second)
        assert second[0] == str(events[200].call_id), "page two starts where page one ended"
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        found = httpx.get(f"{console.url}/queues/{queue_id}", params={"q": "合成"}, cookies=cookies, timeout=60)
        assert found.status_code == 200 and found.text.count("data-call-id=") == 200
        _screenshot(page, f"queue-{size}")
    finally:
        context.close()


# ---- issue 12: cross-site forms, revoked sessions, no public session secret --------------------------------


@contextlib.contextmanager
def _page_on_another_port(html: str) -> Iterator[str]:
    """An attacker's page served from another port of the same host (same site, another origin)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_cannot_take_a_step_with_the_operators_session(console: Console, browser: Any) -> None:
    operator = _add_user(console, f"csrf-{uuid.uuid4().hex[:6]}", _unit_role(console), console.queue_id)
    call_id = _wait_case(console, _post_call(console, f"csrf-{uuid.uuid4().hex[:8]}"))["call_id"]
    attack = (
        f'<form id="f" method="post" action="{console.url}/cases/{call_id}/steps">'
        '<input name="kind" value="accepted"></form><script>document.getElementById("f").submit()</script>'
    )
    context, page = _sign_in(browser, console, operator)
    try:
        with _page_on_another_port(attack) as evil:
            with page.expect_response(f"{console.url}/cases/{call_id}/steps") as answer:
                page.goto(evil)
            assert answer.value.status in (303, 403)  # refused (403), or sent without the cookie (to sign-in)
            assert answer.value.status == 403 or "/login" in (answer.value.headers.get("location") or "")
        time.sleep(1.0)
        assert _wait_case(console, call_id)["status"] == "dispatched"  # no step was taken
    finally:
        context.close()


def _gas_leak(console: Console) -> dict[str, Any]:
    """A gas leak in 望京: urgent (priority 1), a department leads, the street cooperates (catalogue rule)."""
    case = _wait_case(console, _post_call(console, f"gas-{uuid.uuid4().hex[:8]}", **GAS_LEAK))
    assert case["assignment"]["priority"] == 1 and case["queue_id"].startswith("department:"), case["assignment"]
    return case


def test_a_street_opens_the_cases_it_cooperates_on_marked_and_its_depth_counts_its_own(
    console: Console, browser: Any
) -> None:
    """Issue 14: the street's queue listed cases it only cooperates on (吹哨报到), opening one gave 404, the
    depth and the rows disagreed and nothing marked lead vs cooperating; the history opened empty."""
    from playwright.sync_api import Error as PlaywrightError

    case = _gas_leak(console)
    streets = [q for q in case["assignment"]["cooperating_units"] if q.startswith("street:")]
    assert streets, case["assignment"]
    operator = _add_user(console, f"coop-{uuid.uuid4().hex[:6]}", Role.street, streets[0])
    context, page = _sign_in(browser, console, operator)
    try:
        page.goto(f"{console.url}/queues/{streets[0]}")
        row = page.locator(f'tr[data-call-id="{case["call_id"]}"]')
        assert row.get_attribute("data-role") == "cooperating" and "协办" in row.inner_text()
        # The figures and the rows are read apart (the queue's counters, the case listing) and the live stream
        # brings both up to date: a case of another test arriving in between made them differ by one for a
        # moment (4 against 5 in a CI run). They must agree once the page has caught up.
        agreeing = (
            "() => ['lead', 'cooperating'].every((role) => Number(document.getElementById("
            "role === 'lead' ? 'depth' : 'cooperating').textContent) === "
            'document.querySelectorAll(`#case-rows tr[data-role="${role}"]`).length)'
        )
        with contextlib.suppress(PlaywrightError):  # still apart after 20 s: the assertions below say how
            page.wait_for_function(agreeing, timeout=20_000)
        lead_rows = page.locator('#case-rows tr[data-role="lead"]').count()
        cooperating_rows = page.locator('#case-rows tr[data-role="cooperating"]').count()
        assert int(page.inner_text("#depth")) == lead_rows, "the depth counts the cases the street holds"
        assert int(page.inner_text("#cooperating")) == cooperating_rows >= 1
        _screenshot(page, "queue-cooperating")

        row.locator("a").first.click()
        page.wait_for_url(f"**/cases/{case['call_id']}")
        assert page.get_attribute("#my-role", "data-role") == "cooperating"
        assert page.locator("form.step").count() == 0, "the lead unit takes the steps"
        first = page.locator("#history li").first.inner_text()
        assert "派单" in first and case["queue_id"] in first, first
        _screenshot(page, "case-cooperating")
    finally:
        context.close()


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(console: Console) -> None:
    operator = _add_user(console, f"out-{uuid.uuid4().hex[:6]}", _unit_role(console), console.queue_id)
    same_origin = {"Origin": console.url}
    with httpx.Client(base_url=console.url, timeout=10, headers=same_origin) as client:
        signed_in = client.post("/login", data={"user": operator, "password": PASSWORD})
        assert signed_in.status_code == 303
        cookie = signed_in.cookies["hotline_console"]
        assert "samesite=strict" in signed_in.headers["set-cookie"].lower()
        assert client.get("/queues").status_code == 200
        assert client.post("/logout").status_code == 303
    with httpx.Client(base_url=console.url, timeout=10, cookies={"hotline_console": cookie}) as replay:
        assert replay.get("/queues").status_code == 303  # the copied cookie no longer signs anyone in


def test_a_cookie_signed_with_the_old_public_default_secret_is_refused(console: Console) -> None:
    from services.console.sessions import sign

    secret = (console.platform.home / "console-session-secret").read_text().strip()
    assert len(secret) >= 32 and oct((console.platform.home / "console-session-secret").stat().st_mode)[-3:] == "600"
    forged = sign({"user": console.supervisor[0], "sid": "forged"}, "hotline-dev-console-secret", max_age_seconds=600)
    with httpx.Client(base_url=console.url, timeout=10, cookies={"hotline_console": forged}) as forger:
        assert forger.get("/queues").status_code == 303


def test_a_manual_dispatch_in_the_page_keeps_the_case_on_the_clock(console: Console, browser: Any) -> None:
    """Issue 14: 人工派单 wiped the response and resolution deadlines ("—" on the page)."""
    if not _intake_offers_case_steps(console):
        pytest.xfail("intake does not offer POST /v1/cases/{call_id}/events yet (issue 4)")
    case = _gas_leak(console)
    target = "department:市应急管理局"
    context, page = _sign_in(browser, console, console.supervisor[0], console.supervisor[1])
    try:
        page.goto(f"{console.url}/cases/{case['call_id']}")
        form = page.locator('form.step[data-step="dispatched"]')
        form.locator('[name="queue_id"]').fill(target)
        form.locator("button").click()
        page.wait_for_url(f"**/cases/{case['call_id']}?done=dispatched*")
        deadline = time.monotonic() + 10
        while _wait_case(console, case["call_id"])["queue_id"] != target:
            assert time.monotonic() < deadline, "the manual dispatch never reached the case"
            time.sleep(0.1)
        page.goto(f"{console.url}/cases/{case['call_id']}")
        for due in ("#response-due", "#resolution-due"):
            assert not page.inner_text(due).startswith("—"), f"{due} lost its deadline"
        moved = _wait_case(console, case["call_id"])["assignment"]
        assert moved["response_due_at"] and moved["resolution_due_at"] and moved["priority"] == 1
        _screenshot(page, "case-manual-dispatch")
    finally:
        context.close()


def _rows(page: Any) -> list[str]:
    return list(page.locator("#case-rows tr[data-call-id]").evaluate_all("rows => rows.map(r => r.dataset.callId)"))


def _filter(page: Any, **fields: str) -> None:
    """Set the queue page's filters and apply them (a page load)."""
    form = page.locator("#filters")
    for name, value in fields.items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("f => f.tagName") == "SELECT":
            field.select_option(value)
        elif field.get_attribute("type") == "checkbox":
            field.set_checked(value == "1")
        else:
            field.fill(value)
    with page.expect_navigation():
        form.locator("#apply-filters").click()


def test_a_supervisor_searches_every_queue_by_words_newest_first_and_an_operator_may_not(
    console: Console, browser: Any
) -> None:
    """Issue 14: words over the whole store were unbounded (a scan of every case); now newest first, a bounded
    page at a time, with the older results a link away."""
    token = uuid.uuid4().hex[:6]
    first = _wait_case(console, _post_call(console, f"all-{token}-1", body=f"{NOISE['body']} 全库{token}。"))
    second = _wait_case(console, _post_call(console, f"all-{token}-2", body=f"{NOISE['body']} 全库{token}。"))
    context, page = _sign_in(browser, console, console.supervisor[0], console.supervisor[1])
    try:
        page.goto(f"{console.url}/queues?lang=zh")
        page.click("#nav-search")
        page.fill("#search-all input[name=q]", f"全库{token}")
        with page.expect_navigation():
            page.click("#search-all button[type=submit]")
        rows = page.locator("#results tr[data-call-id]").evaluate_all("rows => rows.map(r => r.dataset.callId)")
        assert rows == [second["call_id"], first["call_id"]], "newest first"
        assert int(page.get_attribute("#results", "data-looked-at") or 0) >= 2
        assert page.locator("#search-end").count() == 1, "this store fits one page"
        _screenshot(page, "search-all-zh")
        page.click(f'#results tr[data-call-id="{first["call_id"]}"] a')
        page.wait_for_url(f"**/cases/{first['call_id']}")
        page.goto(f"{console.url}/search?lang=en&q={first['call_id']}")
        assert page.locator("#results tr[data-call-id]").count() == 1 and "Search all cases" in page.inner_text("h1")
        _screenshot(page, "search-all-en")
    finally:
        context.close()
    operator = _add_user(console, f"all-{token}", _unit_role(console), console.queue_id)
    context, page = _sign_in(browser, console, operator)
    try:
        assert page.locator("#nav-search").count() == 0
        refused = page.goto(f"{console.url}/search?q=全库{token}")
        assert refused is not None and refused.status == 403
    finally:
        context.close()


def test_search_by_id_phone_and_words_filters_that_combine_and_the_csv_export(console: Console, browser: Any) -> None:
    """Issue 14: no search, no filters, no export."""
    token = uuid.uuid4().hex[:6]
    call_id = _wait_case(
        console,
        _post_call(console, f"find-{token}", body=f"{NOISE['body']} 工地编号{token}。", contact_phone="13700001111"),
    )["call_id"]
    other = _wait_case(console, _post_call(console, f"other-{token}"))["call_id"]
    operator = _add_user(console, f"find-{token}", _unit_role(console), console.queue_id)
    context, page = _sign_in(browser, console, operator)
    try:
        page.goto(f"{console.url}/queues/{console.queue_id}")
        assert {call_id, other} <= set(_rows(page))
        _filter(page, q=call_id)
        assert _rows(page) == [call_id]
        _filter(page, q="137-0000-1111")  # the phone, found by its salted hash
        assert _rows(page) == [call_id]
        _filter(page, q=f"编号{token}")
        assert _rows(page) == [call_id]
        _filter(page, q=f"编号{token}", status="dispatched", priority="normal", overdue="0")
        assert _rows(page) == [call_id], "filters combine"
        _filter(page, priority="urgent")
        assert _rows(page) == [], "a noise complaint is not urgent"
        _filter(page, priority="", overdue="1")
        assert _rows(page) == [], "not overdue yet"
        _filter(page, overdue="0", sort="newest")
        _screenshot(page, f"queue-search-{_lang(page)}")

        with page.expect_download() as download:
            page.click("#export-csv")
        path = download.value.path()
        exported = Path(path).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert [r["call_id"] for r in rows] == [call_id]
        assert rows[0]["status"] == "dispatched" and "139****5678" in rows[0]["words"]
        assert "13912345678" not in exported, "the export masks the citizen's phone number"
    finally:
        context.close()


def _lang(page: Any) -> str:
    return str(page.evaluate("document.body.dataset.lang"))


def test_an_urgent_call_arrives_at_the_top_with_its_badge_within_two_seconds(console: Console, browser: Any) -> None:
    """Issue 14: urgency visible, urgent cases first, a notification (title badge, tone) when one arrives."""
    warm = _gas_leak(console)  # learns the lead queue of a gas leak
    queue_id = warm["queue_id"]
    context, page = _sign_in(browser, console, console.supervisor[0], console.supervisor[1])
    try:
        page.goto(f"{console.url}/queues/{queue_id}")
        page.wait_for_function("!document.getElementById('live').classList.contains('off')")
        time.sleep(0.5)
        call_id = _post_call(console, f"gas-{uuid.uuid4().hex[:8]}", **GAS_LEAK)
        posted = time.monotonic()
        row = f'#case-rows tr[data-call-id="{call_id}"][data-urgent="1"]'
        page.wait_for_selector(row, timeout=2000)
        page.wait_for_function(
            "document.title.startsWith('(1 紧急)')", timeout=max(100, 2000 - (time.monotonic() - posted) * 1000)
        )
        print(
            f"\nurgent call: in the open queue page, badged, {(time.monotonic() - posted) * 1000:.0f} ms after intake's 202"
        )
        urgent = page.locator("#case-rows tr[data-call-id]").evaluate_all("rows => rows.map(r => r.dataset.urgent)")
        position = _rows(page).index(call_id)
        assert set(urgent[: position + 1]) == {"1"}, "urgent cases come first"
        assert "紧急" in page.locator(row).inner_text()
        _screenshot(page, "queue-urgent")
    finally:
        context.close()


def test_pickers_bulk_accept_and_keyboard_shortcuts_in_the_page(console: Console, browser: Any) -> None:
    """Issue 14: raw ids instead of pickers; no bulk accept; no shortcuts."""
    if not _intake_offers_case_steps(console):
        pytest.xfail("intake does not offer POST /v1/cases/{call_id}/events yet (issue 4)")
    token = uuid.uuid4().hex[:6]
    first, second, third = (_wait_case(console, _post_call(console, f"bulk-{token}-{i}"))["call_id"] for i in range(3))
    operator = _add_user(console, f"bulk-{token}", _unit_role(console), console.queue_id)
    context, page = _sign_in(browser, console, operator)
    try:
        page.goto(f"{console.url}/queues/{console.queue_id}?sort=newest")
        for call_id in (first, second):
            page.check(f'#case-rows input[name="call_id"][value="{call_id}"]')
        with page.expect_navigation():
            page.click("#bulk-accept")
        assert "2" in page.inner_text("#bulk-result")
        for call_id in (first, second):
            deadline = time.monotonic() + 10
            while _wait_case(console, call_id)["status"] != "accepted":
                assert time.monotonic() < deadline, f"{call_id} was not accepted"
                time.sleep(0.1)

        # Keyboard: / focuses the search; on a case page, a accepts it.
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "q"
        page.goto(f"{console.url}/cases/{third}")
        with page.expect_navigation():
            page.keyboard.press("a")
        page.wait_for_selector('#case-status[data-status="accepted"]', timeout=5000)
    finally:
        context.close()

    context, page = _sign_in(browser, console, console.supervisor[0], console.supervisor[1])
    try:
        page.goto(f"{console.url}/cases/{first}")
        options = page.locator("#category-paths option").count()
        assert options > 500, "the three-level taxonomy is offered"
        form = page.locator('form.step[data-step="reclassified"]')
        form.locator('[name="category_path"]').fill("城乡建设/不存在的分类")
        form.locator("button").click()
        assert "unknown category" in page.inner_text("#refused"), "a picker cannot produce an unknown category"
        page.goto(f"{console.url}/cases/{_wait_case(console, _post_call(console, f'pick-{token}'))['call_id']}")
        assert page.locator('#unit-queues option[label="西红门镇（大兴区）"]').count() == 1, "units by name"
        form = page.locator('form.step[data-step="dispatched"]')
        form.locator('[name="queue_id"]').fill("street:大兴区/不存在镇")
        form.locator("button").click()
        assert "unknown unit" in page.inner_text("#refused"), "a picker cannot produce an unknown unit"
        page.goto(f"{console.url}/cases/{first}")
        form = page.locator('form.step[data-step="reclassified"]')
        form.locator('[name="category_path"]').fill("城乡建设/城市建设和市政管理")
        form.locator("button").click()
        page.wait_for_url(f"**/cases/{first}?done=reclassified*")
        deadline = time.monotonic() + 10
        while _wait_case(console, first)["classification"].get("subcategory") != "城市建设和市政管理":
            assert time.monotonic() < deadline, "the reclassification never reached the case"
            time.sleep(0.1)
        _screenshot(page, "case-pickers")
    finally:
        context.close()


PAGES = ("login", "queues", "queue", "case", "scoreboard", "not-found")


def test_screenshots_of_every_page_in_both_languages(console: Console, browser: Any) -> None:
    """Every page the console has, in Chinese and in English, written to test-artifacts/screenshots/."""
    case = _wait_case(console, _post_call(console, f"shot-{uuid.uuid4().hex[:8]}"))
    for lang in ("zh", "en"):
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page = context.new_page()
        try:
            page.goto(f"{console.url}/login?lang={lang}")
            _screenshot(page, f"page-login-{lang}")
            page.fill("input[name=user]", console.supervisor[0])
            page.fill("input[name=password]", console.supervisor[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{console.url}/queues")
            for name, path in (
                ("queues", "/queues"),
                ("queue", f"/queues/{case['queue_id']}"),
                ("case", f"/cases/{case['call_id']}"),
                ("scoreboard", "/scoreboard"),
                ("not-found", "/cases/no-such-case"),
            ):
                page.goto(f"{console.url}{path}?lang={lang}")
                assert _lang(page) == lang
                _screenshot(page, f"page-{name}-{lang}")
        finally:
            context.close()
    written = {p.name for p in SCREENSHOTS.glob("page-*.png")}
    assert written >= {f"page-{name}-{lang}.png" for name in PAGES for lang in ("zh", "en")}


def _load(page: Any, name: str) -> int:
    return int(page.inner_text(f'#load tr[data-assignee="{name}"] .load-count'))


def _wait_assignee(page: Any, name: str) -> None:
    """The case page follows the assignment by itself until the metrics store shows it."""
    page.wait_for_url("**done=assigned*")
    page.wait_for_selector(f'#assignee[data-assignee="{name}"]', timeout=10_000)
    page.wait_for_selector('#done[data-pending="0"]', timeout=10_000)


def test_a_case_assigned_to_an_operator_shows_on_the_case_the_queue_and_the_units_load(
    console: Console, browser: Any
) -> None:
    """Issue 14: 承办人 — assign a case to a named operator of the unit, reassign it ("assign to me"), and each
    operator's load counts it; in both languages."""
    tag = uuid.uuid4().hex[:6]
    first = _add_user(console, f"wang-{tag}", _unit_role(console), console.queue_id)
    second = _add_user(console, f"li-{tag}", _unit_role(console), console.queue_id)
    call_id = _wait_case(console, _post_call(console, f"assign-{tag}"))["call_id"]
    context, page = _sign_in(browser, console, first)
    try:
        queue_url = f"{console.url}/queues/{console.queue_id}"
        queue_page = context.new_page()  # kept open: its load panel follows the live feed
        queue_page.goto(queue_url)
        assert (_load(queue_page, first), _load(queue_page, second)) == (0, 0)
        unassigned_before = int(queue_page.inner_text("#load-unassigned .load-count"))

        page.goto(f"{console.url}/cases/{call_id}")
        assert page.get_attribute("#assignee", "data-assignee") == ""
        page.select_option("#assignee-picker", second)
        page.click("#step-assigned")
        _wait_assignee(page, second)
        assert second in page.inner_text("#history")
        _screenshot(page, "case-assigned")

        # The queue: the row shows the assignee, the filter finds it, the load panel counts it.
        queue_page.wait_for_function(
            "([name]) => document.querySelector(`#load tr[data-assignee=\"${name}\"] .load-count`).textContent === '1'",
            arg=[second],
            timeout=10_000,
        )
        assert int(queue_page.inner_text("#load-unassigned .load-count")) == unassigned_before - 1
        queue_page.goto(f"{queue_url}?assignee={second}")
        row = queue_page.locator(f'tr[data-call-id="{call_id}"] td.assignee')
        assert row.get_attribute("data-assignee") == second
        assert queue_page.locator("#case-rows tr[data-call-id]").count() == 1
        queue_page.goto(f"{queue_url}?assignee=%40none")
        assert queue_page.locator(f'tr[data-call-id="{call_id}"]').count() == 0
        queue_page.goto(queue_url)

        # Reassign: "assign to me" moves the case, and its count, from one operator to the other.
        with page.expect_navigation():
            page.click("#assign-me")
        _wait_assignee(page, first)
        assert page.locator("#assign-me").count() == 0
        queue_page.wait_for_function(
            "([name]) => document.querySelector(`#load tr[data-assignee=\"${name}\"] .load-count`).textContent === '1'",
            arg=[first],
            timeout=10_000,
        )
        assert _load(queue_page, second) == 0
        queue_page.goto(f"{queue_url}?assignee=%40mine")
        assert queue_page.locator(f'tr[data-call-id="{call_id}"] td.assignee').get_attribute("data-assignee") == first
        load = httpx.get(f"{console.metrics_url}/v1/queues/{console.queue_id}/load", headers=_read(console), timeout=5)
        assert {a["assignee"]: a["open"] for a in load.json()["assignees"]}.get(first) == 1
        for lang in ("zh", "en"):
            queue_page.goto(f"{queue_url}?assignee=%40mine&lang={lang}")
            _screenshot(queue_page, f"queue-load-{lang}")
            page.goto(f"{console.url}/cases/{call_id}?lang={lang}")
            _screenshot(page, f"case-assignee-{lang}")
        assert "Assignee" in page.content() and "Operators' load" in queue_page.content()

        # Take it back (取消指派): the case has no handler again, the history says whose it was, the load drops.
        queue_page.goto(queue_url)
        page.goto(f"{console.url}/cases/{call_id}?lang=zh")
        assert first in page.inner_text("#step-unassigned") and "取消指派" in page.inner_text("#step-unassigned")
        with page.expect_navigation():
            page.click("#step-unassigned")
        page.wait_for_selector('#assignee[data-assignee=""]', timeout=10_000)
        assert page.locator("#step-unassigned").count() == 0, "nothing left to take back"
        queue_page.wait_for_function(
            "([name]) => document.querySelector(`#load tr[data-assignee=\"${name}\"] .load-count`).textContent === '0'",
            arg=[first],
            timeout=10_000,
        )
        assert int(queue_page.inner_text("#load-unassigned .load-count")) == unassigned_before
        assert "取消指派" in page.inner_text("#history")
        _screenshot(page, "case-unassigned")
    finally:
        context.close()
