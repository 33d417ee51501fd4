"""``python -m hotline.bench_words [--entries 1000000]``: a whole-store word search's pages on word blocks of a
year's volume, on a private SecantusDB. Printed, never asserted.

It writes ``--entries`` synthetic block entries (20–60 random two-character words and an address each, the
rare word 燃气泄漏 in one of 1,000) into one block per hour over the year before now, with ``insert_many``
(no case documents: building a million real cases takes hours here), then times ``WordBlocks.page``: the
first page of a rare word and of a word in no case (median of three), and every page of each followed to the
oldest block, with the database's CPU. This measures the blocks, not the read API: a page through
``GET /v1/search`` adds the API's work and reading its hits by id (``hotline bench console`` measures that
on a store of real cases). ``--home`` keeps the store to measure again without rebuilding it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.bench_metrics import _DATABASE_PIDS, database_cpu_seconds
from services.common.mongo import mongo_client
from services.metrics.store.base import MetricsDatabase
from services.metrics.store.word_blocks import COMPLETE, HOURS_PREFIX, OLDEST, WordBlocks
from shared.settings import MongoSettings

RARE_WORD = "燃气泄漏"
ABSENT_WORD = "不存在的词"
HOURS = 24 * 365


def synthetic_blocks(entries: int, now: datetime, seed: int = 7) -> list[dict[str, Any]]:
    """One block document per hour of the year before ``now``, ``entries`` cases in all."""
    rng = random.Random(seed)
    vocabulary = [chr(0x4E00 + rng.randrange(3000)) + chr(0x4E00 + rng.randrange(3000)) for _ in range(400)]
    per_hour = max(1, entries // HOURS)
    blocks = []
    for step in range(HOURS):
        start = now - timedelta(hours=HOURS - step)
        cases = {}
        for _ in range(per_hour):
            received = start + timedelta(seconds=rng.randrange(3600))
            words = rng.choices(vocabulary, k=rng.randint(20, 60))
            if rng.random() < 0.001:
                words.insert(rng.randrange(len(words)), RARE_WORD)
            address = f"北京市朝阳区某街道{rng.randrange(999)}号"
            cases[str(uuid.uuid4())] = f"{received.isoformat(timespec='milliseconds')}\t{''.join(words)}\n{address}"
        blocks.append({"_id": start.strftime("%Y-%m-%dT%H"), "cases": cases})
    return blocks


async def build(database: MetricsDatabase, entries: int) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    cpu, started = database_cpu_seconds() or 0.0, time.perf_counter()
    blocks = synthetic_blocks(entries, now)
    for start in range(0, len(blocks), 100):
        await database.word_blocks.insert_many(blocks[start : start + 100])
    months: dict[str, list[str]] = {}
    for block in blocks:
        months.setdefault(str(block["_id"])[:7], []).append(str(block["_id"]))
    await database.word_blocks.insert_many(
        [{"_id": f"{HOURS_PREFIX}{month}", "hours": hours} for month, hours in months.items()]
        + [{"_id": OLDEST, "hour": str(blocks[0]["_id"])}, {"_id": COMPLETE}]
    )
    used = (database_cpu_seconds() or 0.0) - cpu
    written = sum(len(block["cases"]) for block in blocks)
    print(
        f"built {written:,} entries in {len(blocks):,} hour blocks: {time.perf_counter() - started:.0f} s "
        f"(database CPU {used:.0f} s)",
        flush=True,
    )


async def measure(uri: str, entries: int, fresh: bool) -> None:
    client = mongo_client(MongoSettings(uri=uri))
    try:
        database = MetricsDatabase(client["bench_words"])
        if fresh:
            await build(database, entries)
        blocks = WordBlocks(database)
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
    finally:
        await client.close()


def main() -> None:
    from hotline.embedded import EmbeddedStack

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000, help="cases in the blocks (a year of hours)")
    parser.add_argument("--home", type=Path, default=None, help="keep the store here (reused when built)")
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
            asyncio.run(measure(stack.mongodb_uri, args.entries, fresh))
            marker.write_text(f"{args.entries}\n")
        finally:
            _DATABASE_PIDS.clear()
            stack.stop()


if __name__ == "__main__":
    main()
