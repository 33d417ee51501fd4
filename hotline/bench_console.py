"""``hotline bench console --open N``: how fast the console's queue page and its search answer with N open cases
in one queue, on the real stack (embedded broker and database, every process on free ports). Printed, never
asserted; the JSON goes to ``--out``.

It stores N open cases in a queue of their own through the metrics store's write path (received over the
last ``N × 37 s``, so none overdue; one in 500 urgent, one in 100 with a rarer word), signs in as the demo
supervisor and prints, each the median and best of ``--repeat`` requests, with the database's CPU per request:

- the console's queue page (``/queues/{id}``: 200 rows, urgent first) and the read API calls behind it
  (``/v1/queues``, ``/v1/queues/{id}/cases?order=urgent``);
- Chromium's load event for that page (``performance`` navigation timing, and the wall time of ``goto``);
- word searches inside the queue (a word in 1% of its cases, a word in every case, a word in none) through
  the console and the read API, and searches over the whole store (a call id; a word: its first page, and
  every page followed to the oldest case, with the cases looked at).

``--stored M`` runs it on top of the ``hotline bench --stored M`` store (built once, then reused; the open cases
are added to it, in a queue of each run's own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from hotline.bench import DATABASE, _cpu_seconds, bench_platform
from hotline.bench_metrics import synthetic_events
from hotline.platform import Platform, ensure_demo_supervisor, metrics_read_headers, running_platform
from services.common.mongo import mongo_client
from services.metrics.repository import MetricsRepository
from shared.events import CallRouted
from shared.queues import URGENT_PRIORITY, QueueId
from shared.settings import MongoSettings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
DISTRICT = "东城区"
RARE_WORD = "燃气泄漏"  # in one case of 100
COMMON_WORD = "合成"  # in every case (synthetic_events' body)
ABSENT_WORD = "不存在的词"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``hotline bench console`` (``--stored``, ``--store-root`` and ``--out`` are ``bench``'s)."""
    parser.add_argument("--open", type=int, default=10_000, help="console: open cases in the measured queue")
    parser.add_argument("--repeat", type=int, default=5, help="console: requests per figure (median and best)")
    parser.add_argument("--no-browser", action="store_true", help="console: skip Chromium's load event")


def open_cases(size: int, run: str, now: datetime) -> tuple[str, list[CallRouted]]:
    """``size`` open cases of one new street's queue, received every 37 s up to ``now`` (deadlines 7 days on)."""
    street = f"基准{run}"
    queue_id = str(QueueId.for_street(DISTRICT, street))
    start = now - timedelta(seconds=37 * size)
    events = []
    for i, event in enumerate(synthetic_events(size, queues=1, run=run, spread="uniform")):
        received = start + timedelta(seconds=37 * i)
        call = event.call.model_copy(
            update={
                "received_at": received,
                "subject": f"{RARE_WORD}报修" if i % 100 == 7 else event.call.subject,
                "location": event.call.location.model_copy(update={"district": DISTRICT, "street": street}),
            }
        )
        assignment = event.assignment.model_copy(
            update={
                "queue_id": queue_id,
                "district": DISTRICT,
                "street": street,
                "unit_name": street,
                "priority": URGENT_PRIORITY if i % 500 == 3 else 3,
                "resolution_due_at": received + timedelta(days=7),
            }
        )
        events.append(event.model_copy(update={"call": call, "assignment": assignment}))
    return queue_id, events


async def _store(uri: str, database: str, events: list[CallRouted]) -> float:
    client = mongo_client(MongoSettings(uri=uri))
    try:
        repository = MetricsRepository(client[database])
        started = time.perf_counter()
        for start in range(0, len(events), 500):
            await repository.apply_routed(events[start : start + 500])
        # A store from before the word blocks gets them in the worker's background task; the whole-store word
        # searches are measured on them, so wait for them here (once; a no-op when they are there).
        put = await repository.backfill_word_blocks()
        if put:
            print(f"  word blocks built for {put:,} stored cases", flush=True)
        return time.perf_counter() - started
    finally:
        await client.close()


async def _timed(
    platform: Platform, repeat: int, request: Callable[[], Awaitable[httpx.Response]]
) -> dict[str, float | int]:
    """Median and best wall time of ``repeat`` requests (after one warm-up unless ``repeat`` is 1) and the
    database's CPU per request; a request that fails is timed once, with its status."""
    if repeat > 1:
        started = time.perf_counter()
        warm = await request()
        if warm.status_code != 200:
            return {"status": warm.status_code, "median_ms": round((time.perf_counter() - started) * 1000, 1)}
    walls = []
    cpu_before = _cpu_seconds(platform).get("database", 0.0)
    for _ in range(repeat):
        started = time.perf_counter()
        response = await request()
        walls.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            return {"status": response.status_code, "median_ms": round(walls[-1], 1)}
    cpu = (_cpu_seconds(platform).get("database", 0.0) - cpu_before) / repeat * 1000
    figure: dict[str, float | int] = {
        "median_ms": round(statistics.median(walls), 1),
        "best_ms": round(min(walls), 1),
        "database_cpu_ms": round(cpu, 1),
        "bytes": len(response.content),
    }
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    if isinstance(body, dict) and "cases" in body:
        figure["listed"] = len(body["cases"])
        if "total" in body:
            figure["total"] = int(body["total"])
    return figure


async def _server_figures(
    platform: Platform, queue_id: str, call_id: str, middle_received: str, user: tuple[str, str], repeat: int
) -> tuple[dict[str, dict[str, float | int]], dict[str, str]]:
    """Each measured request's figures, and the console's session cookies (for the browser)."""
    figures: dict[str, dict[str, float | int]] = {}
    headers = metrics_read_headers(platform.home)
    async with (
        httpx.AsyncClient(base_url=platform.metrics_url, headers=headers, timeout=120) as api,
        httpx.AsyncClient(base_url=platform.console_url, headers={"Origin": platform.console_url}, timeout=120) as web,
    ):
        signed_in = await web.post("/login", data={"user": user[0], "password": user[1]})
        if signed_in.status_code >= 400 or not web.cookies:
            raise RuntimeError(f"the console refused the demo supervisor: {signed_in.status_code}")
        page = f"/queues/{queue_id}"
        middle = str(middle_received)  # a cursor half-way through the queue
        measured: list[tuple[str, Callable[[], Awaitable[httpx.Response]]]] = [
            ("console: queue page (200 rows, urgent first)", lambda: web.get(page)),
            ("api: /v1/queues", lambda: api.get("/v1/queues")),
            (
                "api: queue's cases (limit 200, urgent first)",
                lambda: api.get(f"/v1/queues/{queue_id}/cases", params={"limit": 200, "order": "urgent"}),
            ),
            ("console: queue page, oldest first", lambda: web.get(page, params={"sort": "oldest"})),
            ("console: queue page, next 200 (keyset cursor)", lambda: web.get(page, params={"after": middle})),
            (
                "api: queue's cases, a later page (after=cursor)",
                lambda: api.get(f"/v1/queues/{queue_id}/cases", params={"limit": 200, "after": middle}),
            ),
            ("console: queue page, newest first", lambda: web.get(page, params={"sort": "newest"})),
            ("console: queue page, overdue only", lambda: web.get(page, params={"overdue": "1"})),
            ("console: word in 1% of the queue", lambda: web.get(page, params={"q": RARE_WORD})),
            ("console: word in every case of the queue", lambda: web.get(page, params={"q": COMMON_WORD})),
            ("console: word in no case", lambda: web.get(page, params={"q": ABSENT_WORD})),
            (
                "api: search the queue, word in 1%",
                lambda: api.get("/v1/search", params={"queue_id": queue_id, "q": RARE_WORD, "limit": 200}),
            ),
            (
                "api: search the queue, word in every case",
                lambda: api.get("/v1/search", params={"queue_id": queue_id, "q": COMMON_WORD, "limit": 200}),
            ),
            (
                "api: whole store, word in 1% of the queue (1st page)",
                lambda: api.get("/v1/search", params={"q": RARE_WORD, "limit": 200}),
            ),
            (
                "api: whole store, word in no case (1st page)",
                lambda: api.get("/v1/search", params={"q": ABSENT_WORD, "limit": 200}),
            ),
            ("api: search the whole store by call id", lambda: api.get("/v1/search", params={"q": call_id})),
        ]
        for name, request in measured:
            figures[name] = await _timed(platform, repeat, request)
            print(f"  {name:55s} {_line(figures[name])}", flush=True)
        for word in (RARE_WORD, ABSENT_WORD):
            name = f"api: whole store, every page of {word!r}"
            figures[name] = await _word_walk(platform, api, word)
            print(f"  {name:55s} {_walk_line(figures[name])}", flush=True)
        cookies = {name: str(value) for name, value in web.cookies.items()}
    return figures, cookies


async def _word_walk(platform: Platform, api: httpx.AsyncClient, word: str) -> dict[str, float | int]:
    """A word search over the whole store followed page by page (``next`` -> ``before=``) to its end: the pages,
    the hits, the cases looked at, the slowest page and the total wall and database CPU time."""
    cpu_before = _cpu_seconds(platform).get("database", 0.0)
    walls: list[float] = []
    hits = looked_at = 0
    cursor: str | None = None
    while True:
        started = time.perf_counter()
        params: dict[str, str | int] = {"q": word, "limit": 200, **({"before": cursor} if cursor else {})}
        body = (await api.get("/v1/search", params=params)).json()
        walls.append((time.perf_counter() - started) * 1000)
        hits += len(body["cases"])
        looked_at += int(body.get("looked_at") or 0)
        cursor = body.get("next")
        if not cursor:
            break
    return {
        "pages": len(walls),
        "hits": hits,
        "looked_at": looked_at,
        "page_median_ms": round(statistics.median(walls), 1),
        "page_max_ms": round(max(walls), 1),
        "total_ms": round(sum(walls), 1),
        "database_cpu_ms": round((_cpu_seconds(platform).get("database", 0.0) - cpu_before) * 1000, 1),
    }


def _walk_line(figure: dict[str, float | int]) -> str:
    return (
        f"{figure['pages']} pages, {figure['hits']} hits, {figure['looked_at']:,} cases looked at: page median "
        f"{figure['page_median_ms']} ms, slowest {figure['page_max_ms']} ms, all {figure['total_ms']:.0f} ms "
        f"(database CPU {figure['database_cpu_ms']:.0f} ms)"
    )


def _line(figure: dict[str, float | int]) -> str:
    if "status" in figure:
        return f"answered {figure['status']} after {figure['median_ms']:.0f} ms"
    extra = "".join(f", {k} {figure[k]:,}" for k in ("total", "listed") if k in figure)
    return (
        f"median {figure['median_ms']:7.1f} ms, best {figure['best_ms']:7.1f} ms, "
        f"database CPU {figure['database_cpu_ms']:6.1f} ms/request, {int(figure['bytes']) // 1024} KiB{extra}"
    )


def _browser_figures(url: str, cookies: dict[str, str], repeat: int) -> dict[str, float]:
    """Chromium's navigation timing of the page: response end and load event (from the navigation start)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            context.add_cookies([{"name": k, "value": v, "url": url} for k, v in cookies.items()])
            page = context.new_page()
            loads, responses, walls = [], [], []
            for attempt in range(repeat + 1):
                started = time.perf_counter()
                answer = page.goto(url, wait_until="load")
                wall = (time.perf_counter() - started) * 1000
                if answer is None or answer.status != 200 or "/login" in page.url:
                    raise RuntimeError(f"the browser did not get the queue page: {answer and answer.status}")
                timing = page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return [n.responseEnd, n.loadEventEnd]; }"
                )
                if attempt:  # the first load warms the browser's cache of the style sheet and scripts
                    responses.append(float(timing[0]))
                    loads.append(float(timing[1]))
                    walls.append(wall)
            return {
                "response_end_median_ms": round(statistics.median(responses), 1),
                "load_event_median_ms": round(statistics.median(loads), 1),
                "load_event_best_ms": round(min(loads), 1),
                "goto_wall_median_ms": round(statistics.median(walls), 1),
                "rows": page.locator("#case-rows tr[data-call-id]").count(),
            }
        finally:
            browser.close()


def run(args: argparse.Namespace) -> int:
    platform, seeding = bench_platform(args, "hotline-bench-console-")
    home = platform.home
    user = ensure_demo_supervisor(platform)
    run_id = uuid.uuid4().hex[:8]
    queue_id, events = open_cases(args.open, run_id, datetime.now(UTC))
    print(f"Starting a platform in {home} ...", flush=True)
    with running_platform(platform, timeout=180):
        print(f"Storing {args.open:,} open cases in {queue_id} through the metrics store ...", flush=True)
        seconds = asyncio.run(_store(platform.mongodb_uri, DATABASE, events))
        print(f"  stored in {seconds:.1f} s; measuring ({args.repeat} requests each, after one warm-up):", flush=True)
        middle = events[len(events) // 2].call.received_at.isoformat()  # a page cursor half-way through the queue
        figures, cookies = asyncio.run(
            _server_figures(platform, queue_id, str(events[-1].call_id), middle, user, args.repeat)
        )
        browser: dict[str, float] | None = None
        if not args.no_browser and CHROMIUM.exists():
            browser = _browser_figures(f"{platform.console_url}/queues/{queue_id}", cookies, args.repeat)
            print(
                f"  Chromium, queue page: load event median {browser['load_event_median_ms']:.0f} ms "
                f"(best {browser['load_event_best_ms']:.0f} ms; response end {browser['response_end_median_ms']:.0f} ms;"
                f" goto {browser['goto_wall_median_ms']:.0f} ms; {browser['rows']:.0f} rows)",
                flush=True,
            )
    result = {
        "open": args.open,
        "stored": args.stored,
        "seeding": seeding,
        "queue_id": queue_id,
        "server": figures,
        "browser": browser,
        "at": datetime.now(UTC).isoformat(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"console-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"(written to {out}; logs in {home / 'logs'})")
    return 0
