"""``python -m services.metrics.bench``: how many routed events/s the repository applies, in batches.

Figures are printed, never asserted. By default it writes to a throw-away database on MONGODB_URI;
``--embedded`` starts a private SecantusDB process for the run instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pymongo import AsyncMongoClient

from services.metrics.aggregates import CounterChanges, case_document
from services.metrics.repository import MetricsRepository
from shared.events import (
    Assignment,
    Call,
    CallRouted,
    Channel,
    Classification,
    Location,
    UnitKind,
    call_id_for,
)
from shared.settings import get_settings

CATEGORIES = ("城乡建设", "劳动和社会保障", "教育文体", "卫生计生", "交通运输", "商贸旅游", "环境保护", "民政")
DISTRICTS = ("东城区", "西城区", "朝阳区", "海淀区", "丰台区", "大兴区", "通州区", "昌平区")


def queue_numbers(count: int, *, queues: int, spread: str, seed: int = 12345) -> list[int]:
    """Which queue each call goes to: ``zipf`` (a few busy streets, a long tail, as real calls) or ``uniform``."""
    if spread == "uniform":
        return [i % queues for i in range(count)]
    cumulative, total = [], 0.0
    for rank in range(1, queues + 1):
        total += 1.0 / rank**1.1
        cumulative.append(total)
    return random.Random(seed).choices(range(queues), cum_weights=cumulative, k=count)


def synthetic_events(count: int, *, queues: int, run: str, spread: str = "zipf") -> list[CallRouted]:
    """``count`` routed calls over ``queues`` queues (in 8 districts), 8 categories and 3 issues."""
    start = datetime(2026, 4, 1, tzinfo=UTC)
    events = []
    for i, queue in enumerate(queue_numbers(count, queues=queues, spread=spread)):
        district = DISTRICTS[queue % len(DISTRICTS)]
        street = f"街道{queue:03d}"
        received_at = start + timedelta(seconds=37 * i)
        events.append(
            CallRouted(
                call_id=call_id_for(f"bench-{run}", str(i)),
                call=Call(
                    channel=Channel.phone,
                    source_system=f"bench-{run}",
                    external_id=str(i),
                    subject="测试",
                    body="合成的基准测试诉求 synthetic benchmark request",
                    language="zh",
                    location=Location(district=district, street=street),
                    received_at=received_at,
                ),
                classification=Classification(
                    category=CATEGORIES[i % len(CATEGORIES)],
                    issue=f"issue-{i % 3}" if i % 4 == 0 else None,
                    confidence=0.9,
                    model_version="bench",
                ),
                assignment=Assignment(
                    queue_id=f"street:{district}/{street}",
                    unit_kind=UnitKind.street,
                    unit_name=street,
                    district=district,
                    street=street,
                    catalogue_version="bench",
                    reason="synthetic",
                    resolution_due_at=received_at + timedelta(days=7),
                ),
            )
        )
    return events


def _counter_upserts(batch: list[CallRouted], timezone: str) -> int:
    changes = CounterChanges()
    for event in batch:
        changes.add_case(None, case_document(event, timezone))
    return len(changes.nonzero())


@contextlib.contextmanager
def private_database() -> Iterator[str]:
    """A SecantusDB process on a free port with its files in a temporary directory."""
    from hotline.embedded import EmbeddedStack

    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as home:
        stack = EmbeddedStack(home=Path(home), database_storage=Path(home) / "db")
        stack.start(broker=False)
        try:
            yield stack.mongodb_uri
        finally:
            stack.stop()


async def measure(uri: str, *, calls: int, batch_size: int, queues: int, spread: str) -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    name = f"bench_metrics_{uuid.uuid4().hex[:10]}"
    try:
        repository = MetricsRepository(client[name])
        await repository.ensure_indexes()
        events = synthetic_events(calls, queues=queues, run=name, spread=spread)
        batches = [events[i : i + batch_size] for i in range(0, len(events), batch_size)]
        upserts = sum(_counter_upserts(batch, repository.timezone) for batch in batches)

        started = time.perf_counter()
        new = sum([await repository.apply_routed(batch) for batch in batches])
        first_pass = time.perf_counter() - started

        started = time.perf_counter()
        replayed = sum([await repository.apply_routed(batch) for batch in batches])
        replay_pass = time.perf_counter() - started

        started = time.perf_counter()
        summaries = await repository.queues()
        queues_read = time.perf_counter() - started
        counters = await client[name].counters.count_documents({})

        print(
            f"calls: {calls} in batches of {batch_size}; {queues} queues ({spread}); "
            f"{counters} counter documents, {upserts / len(batches):.0f} counter upserts per batch"
        )
        print(f"first delivery: {new} new cases in {first_pass:.2f}s = {calls / first_pass:,.0f} routed events/s")
        print(
            f"replay (all already stored): {replayed} new in {replay_pass:.2f}s = {calls / replay_pass:,.0f} events/s"
        )
        print(f"GET /v1/queues equivalent: {len(summaries)} queues read in {queues_read * 1000:.0f} ms")
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000, help="routed events to apply")
    parser.add_argument("--batch-size", type=int, default=500, help="events per transaction")
    parser.add_argument("--queues", type=int, default=380, help="queues (333 streets/towns + dozens of departments)")
    parser.add_argument("--spread", choices=("zipf", "uniform"), default="zipf", help="how calls spread over queues")
    parser.add_argument("--embedded", action="store_true", help="start a private SecantusDB for the run")
    args = parser.parse_args()

    def run(uri: str) -> None:
        asyncio.run(measure(uri, calls=args.calls, batch_size=args.batch_size, queues=args.queues, spread=args.spread))

    if args.embedded:
        with private_database() as uri:
            run(uri)
    else:
        run(get_settings().mongodb.uri)


if __name__ == "__main__":
    main()
