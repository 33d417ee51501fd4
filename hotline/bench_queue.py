"""``python -m hotline.bench_queue [N]``: how long the embedded database takes to list the oldest 200 open cases
of one queue holding N (10,000 by default), for the query the read API makes today and for the shapes that
would keep a queue page under a second. Starts a private SecantusDB in memory; figures printed, not asserted.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient

from hotline.bench_metrics import synthetic_events
from hotline.embedded import free_port, start_database, stop_process, wait_for_port
from services.metrics.case_facts import OPEN_STATUSES
from services.metrics.repository import MetricsRepository

LISTED = 200


async def measure(port: int, size: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(f"mongodb://127.0.0.1:{port}", tz_aware=True)
    db = client["bench_queue"]
    repository = MetricsRepository(db)
    await repository.ensure_indexes()
    # The index the faster shapes need (not created by the service today).
    await db.cases.create_index([("queue_id", ASCENDING), ("status", ASCENDING), ("received_at", ASCENDING)])
    events = synthetic_events(size, queues=1, run="bench-queue", spread="uniform")
    queue = events[0].assignment.queue_id
    started = time.perf_counter()
    await repository.apply_routed(events)
    print(f"{size:,} open cases in {queue}: stored in {time.perf_counter() - started:.1f} s")
    first = min(e.call.received_at for e in events)
    window = first + (max(e.call.received_at for e in events) - first) * (2 * LISTED / size)
    shapes: list[tuple[str, dict[str, Any], list[tuple[str, int]] | None]] = [
        ("today: queue_ids (multikey) + status $in, sorted", {"queue_ids": queue, "status": {"$in": list(OPEN_STATUSES)}}, [("received_at", 1), ("_id", 1)]),
        ("queue_ids + one status + received_at window", {"queue_ids": queue, "status": "dispatched", "received_at": {"$lt": window}}, None),
        ("queue_id + one status + received_at window", {"queue_id": queue, "status": "dispatched", "received_at": {"$lt": window}}, None),
    ]  # fmt: skip
    for name, query, sort in shapes:
        cursor = db.cases.find(query)
        if sort:
            cursor = cursor.sort(sort)
        started = time.perf_counter()
        listed = [doc async for doc in cursor.limit(LISTED)]
        print(f"  {name}: {len(listed)} listed in {(time.perf_counter() - started) * 1000:.0f} ms")
    await client.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    size = int(args[0]) if args else 10_000
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        proc = start_database(port, ":memory:", Path(home) / "database.log")
        try:
            wait_for_port(port, timeout=30, proc=proc)
            asyncio.run(measure(port, size))
        finally:
            stop_process(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
