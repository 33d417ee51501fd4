"""``python -m hotline.bench_words [--entries 1000000]``: a whole-store word search's pages on word blocks of a
year's volume, on a private SecantusDB. Printed, never asserted.

It writes ``--entries`` synthetic block entries (20–60 random two-character words and an address each, the
rare word 燃气泄漏 in one of 1,000) into one block per hour over the year before now, with ``insert_many``
(no case documents: building a million real cases takes hours here), then times ``WordBlocks.page``: the
first page of a rare word and of a word in no case (median of three), and every page of each followed to the
oldest block, with the database's CPU. This measures the blocks, not the read API: a page through
``GET /v1/search`` adds the API's work and reading its hits by id (``hotline bench console`` measures that
on a store of real cases). ``--home`` keeps the store to measure again without rebuilding it.

``--with-cases`` also writes a case document (about 1 KB: the call, its classification, assignment and a
short history) for every entry, the entry made from it by the store's own ``block_entry``, and measures the
same searches through the read API (in process, over ASGI): the hits are then read and filtered by id as
in production. The cases get no secondary index (a word search reads them by ``_id`` only).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from hotline.bench_metrics import _DATABASE_PIDS, database_cpu_seconds
from services.common.mongo import mongo_client
from services.metrics.api.app import create_app
from services.metrics.case_search import block_entry
from services.metrics.settings import MetricsSettings
from services.metrics.store.base import COMPLETE, MetricsDatabase
from services.metrics.store.word_blocks import HOURS_PREFIX, OLDEST, WordBlocks
from shared.api_keys import READ_ALL, create_key
from shared.settings import MongoSettings

RARE_WORD = "燃气泄漏"
ABSENT_WORD = "不存在的词"
HOURS = 24 * 365
STEPS = ("dispatched", "accepted", "responded", "resolved", "callback")


def synthetic_hours(entries: int, now: datetime, seed: int = 7) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(hour, its cases as case documents) for each hour of the year before ``now``, ``entries`` cases in all."""
    rng = random.Random(seed)
    vocabulary = [chr(0x4E00 + rng.randrange(3000)) + chr(0x4E00 + rng.randrange(3000)) for _ in range(400)]
    per_hour = max(1, entries // HOURS)
    for step in range(HOURS):
        start = now - timedelta(hours=HOURS - step)
        cases = []
        for _ in range(per_hour):
            received = start + timedelta(seconds=rng.randrange(3600), milliseconds=rng.randrange(1000))
            words = rng.choices(vocabulary, k=rng.randint(20, 60))
            if rng.random() < 0.001:
                words.insert(rng.randrange(len(words)), RARE_WORD)
            queue = f"street:朝阳区/街道{rng.randrange(300):03d}"
            steps = [{"kind": kind, "at": received, "actor": "bench", "outcome": "applied"} for kind in STEPS]
            cases.append(
                {
                    "_id": str(uuid.uuid4()),
                    "received_at": received,
                    "routed_at": received,
                    "month": received.strftime("%Y-%m"),
                    "day": received.strftime("%Y-%m-%d"),
                    "status": rng.choice(("dispatched", "accepted", "resolved", "closed")),
                    "queue_id": queue,
                    "queue_ids": [queue],
                    "district": "朝阳区",
                    "call": {
                        "subject": "".join(words[:3]),
                        "body": "".join(words),
                        "location": {"address": f"北京市朝阳区某街道{rng.randrange(999)}号", "district": "朝阳区"},
                        "contact": {"hash": uuid.uuid4().hex * 2},
                    },
                    "classification": {"category": "城乡建设", "subcategory": "市政设施", "item": "道路破损"},
                    "assignment": {"queue_id": queue, "priority": 3, "resolution_due_at": received + timedelta(days=7)},
                    "history": steps,
                }
            )
        yield start.strftime("%Y-%m-%dT%H"), cases


async def build(database: MetricsDatabase, entries: int, with_cases: bool) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    cpu, started = database_cpu_seconds() or 0.0, time.perf_counter()
    months: dict[str, list[str]] = {}
    blocks: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    written = 0
    for hour, hour_cases in synthetic_hours(entries, now):
        blocks.append({"_id": hour, "cases": {case["_id"]: block_entry(case) for case in hour_cases}})
        months.setdefault(hour[:7], []).append(hour)
        written += len(hour_cases)
        if with_cases:
            cases += hour_cases
        if len(blocks) == 100:
            await database.word_blocks.insert_many(blocks)
            blocks = []
        if len(cases) >= 2000:
            await database.cases.insert_many(cases, ordered=False)
            cases = []
    if blocks:
        await database.word_blocks.insert_many(blocks)
    if cases:
        await database.cases.insert_many(cases, ordered=False)
    await database.word_blocks.insert_many(
        [{"_id": f"{HOURS_PREFIX}{month}", "hours": hours} for month, hours in months.items()]
        + [{"_id": OLDEST, "hour": min(min(hours) for hours in months.values())}, {"_id": COMPLETE}]
    )
    used = (database_cpu_seconds() or 0.0) - cpu
    print(
        f"built {written:,} entries{' and case documents' if with_cases else ''} in {HOURS:,} hour blocks: "
        f"{time.perf_counter() - started:.0f} s "
        f"(database CPU {used:.0f} s)",
        flush=True,
    )


async def measure(uri: str, entries: int, fresh: bool, with_cases: bool, home: Path) -> None:
    client = mongo_client(MongoSettings(uri=uri))
    try:
        database = MetricsDatabase(client["bench_words"])
        if fresh:
            await build(database, entries, with_cases)
        await measure_blocks(WordBlocks(database))
        if with_cases:
            await measure_api(client["bench_words"], home)
    finally:
        await client.close()


async def measure_api(db: Any, home: Path) -> None:
    """The same searches through ``GET /v1/search`` (the read API in process, a read:all key)."""
    settings = MetricsSettings(api_keys_file=home / "api-keys.json")
    key = create_key(settings.api_keys_file, f"bench-{uuid.uuid4().hex[:6]}", (READ_ALL,))
    transport = httpx.ASGITransport(app=create_app(settings, database=db))
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics", headers={"X-API-Key": key}) as api:
        for word in (RARE_WORD, ABSENT_WORD):
            firsts = []
            for _ in range(3):
                started = time.perf_counter()
                body = (await api.get("/v1/search", params={"q": word, "limit": 200})).json()
                firsts.append((time.perf_counter() - started) * 1000)
            cpu, started = database_cpu_seconds() or 0.0, time.perf_counter()
            walls, hits, cursor = [], 0, None
            while True:
                begun = time.perf_counter()
                params: dict[str, Any] = {"q": word, "limit": 200, **({"before": cursor} if cursor else {})}
                body = (await api.get("/v1/search", params=params)).json()
                walls.append((time.perf_counter() - begun) * 1000)
                hits, cursor = hits + len(body["cases"]), body.get("next")
                if not cursor:
                    break
            print(
                f"API {word}: first page median {statistics.median(firsts):.0f} ms; every page: {len(walls)} pages, "
                f"{hits:,} hits, page median {statistics.median(walls):.0f} ms, slowest {max(walls):.0f} ms, "
                f"all {time.perf_counter() - started:.1f} s (database CPU {(database_cpu_seconds() or 0.0) - cpu:.1f} s)",
                flush=True,
            )


async def measure_blocks(blocks: WordBlocks) -> None:
    """``WordBlocks.page`` alone: the first page of each word (median of three) and every page to the end."""
    for word in (RARE_WORD, ABSENT_WORD):
        firsts = []
        for _ in range(3):
            started = time.perf_counter()
            await blocks.page([word])
            firsts.append((time.perf_counter() - started) * 1000)
        cpu, started = database_cpu_seconds() or 0.0, time.perf_counter()
        walls, hits, looked_at, cursor = [], 0, 0, None
        while True:
            begun = time.perf_counter()
            page = await blocks.page([word], before=cursor)
            walls.append((time.perf_counter() - begun) * 1000)
            hits, looked_at, cursor = hits + len(page.call_ids), looked_at + page.looked_at, page.next
            if cursor is None:
                break
        print(
            f"{word}: first page median {statistics.median(firsts):.0f} ms; every page: {len(walls)} pages, "
            f"{hits:,} hits, {looked_at:,} cases looked at, page median {statistics.median(walls):.0f} ms, "
            f"slowest {max(walls):.0f} ms, all {time.perf_counter() - started:.1f} s "
            f"(database CPU {(database_cpu_seconds() or 0.0) - cpu:.1f} s)",
            flush=True,
        )


def main() -> None:
    from hotline.embedded import EmbeddedStack

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000, help="cases in the blocks (a year of hours)")
    parser.add_argument("--home", type=Path, default=None, help="keep the store here (reused when built)")
    parser.add_argument("--with-cases", action="store_true", help="case documents too; measure through the API")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-words-") as scratch:
        home = args.home or Path(scratch)
        home.mkdir(parents=True, exist_ok=True)
        marker = home / "bench-words-built"
        fresh = not marker.exists()
        stack = EmbeddedStack(home=home, database_storage=home / "db")
        stack.start(broker=False)
        _DATABASE_PIDS[:] = [proc.pid for proc in stack.processes]
        try:
            asyncio.run(measure(stack.mongodb_uri, args.entries, fresh, args.with_cases, home))
            marker.write_text(f"{args.entries}\n")
        finally:
            _DATABASE_PIDS.clear()
            stack.stop()


if __name__ == "__main__":
    main()
