"""``python -m hotline.bench_metrics``: how many routed calls and case events/s the repository applies, in
batches, and how long each dashboard figure takes to read for a month of 1 million cases.

Figures are printed, never asserted. By default it writes to a throw-away database on MONGODB_URI;
``--embedded`` starts a private SecantusDB process for the run instead. The read-path phase writes the
counter documents that 1 million cases a month would leave (12 months, every unit, district,
category and problem) directly, rather than 1 million cases: the dashboards read only counters.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.common.mongo import mongo_client
from services.metrics.aggregates import UNIT_FIELDS, CounterChanges, field_key, streets_counter_id
from services.metrics.case_facts import case_document
from services.metrics.repository import MetricsRepository
from services.metrics.settings import MetricsSettings
from shared.clock import previous_month
from shared.events import (
    Assignment,
    Call,
    CallRouted,
    CaseEvent,
    Channel,
    Classification,
    Location,
    UnitKind,
    call_id_for,
)
from shared.queues import QueueId
from shared.reference import LEVEL1_CATEGORIES, MONTHLY_QUESTION_IDS
from shared.settings import MongoSettings

CATEGORIES = tuple(sorted(LEVEL1_CATEGORIES))[:8]  # eight of the fifteen, for synthetic calls
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
                    queue_id=str(QueueId.for_street(district, street)),
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


_DATABASE_PIDS: list[int] = []
"""The private database's process (``--embedded``), whose CPU time the write figures report."""


def database_cpu_seconds() -> float | None:
    """CPU seconds (user + system) the private database has used so far; None on an outside database."""
    if not _DATABASE_PIDS:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _DATABASE_PIDS:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


@contextlib.contextmanager
def private_database() -> Iterator[str]:
    """A SecantusDB process on a free port with its files in a temporary directory."""
    from hotline.embedded import EmbeddedStack

    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as home:
        stack = EmbeddedStack(home=Path(home), database_storage=Path(home) / "db")
        stack.start(broker=False)
        _DATABASE_PIDS[:] = [proc.pid for proc in stack.processes]
        try:
            yield stack.mongodb_uri
        finally:
            _DATABASE_PIDS.clear()
            stack.stop()


async def measure(uri: str, *, calls: int, batch_size: int, queues: int, spread: str) -> None:
    client = mongo_client(MongoSettings(uri=uri))
    name = f"bench_metrics_{uuid.uuid4().hex[:10]}"
    try:
        repository = MetricsRepository(client[name])
        await repository.ensure_indexes()
        events = synthetic_events(calls, queues=queues, run=name, spread=spread)
        batches = [events[i : i + batch_size] for i in range(0, len(events), batch_size)]
        upserts = sum(_counter_upserts(batch, repository.timezone) for batch in batches)

        cpu_before = database_cpu_seconds()
        started = time.perf_counter()
        new = sum([await repository.apply_routed(batch) for batch in batches])
        first_pass = time.perf_counter() - started
        cpu_after = database_cpu_seconds()

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
        if cpu_before is not None and cpu_after is not None:  # the write cost, steadier than the wall time
            print(f"  database CPU per stored case: {(cpu_after - cpu_before) / max(new, 1) * 1000:.2f} ms")
        print(
            f"replay (all already stored): {replayed} new in {replay_pass:.2f}s = {calls / replay_pass:,.0f} events/s"
        )
        print(f"GET /v1/queues equivalent: {len(summaries)} queues read in {queues_read * 1000:.0f} ms")

        deepest = max(summaries, key=lambda queue: queue.depth).queue_id if summaries else None
        await measure_assignments(repository, events, batch_size, deepest=deepest)

        steps = lifecycle_steps(events)
        step_batches = [steps[i : i + batch_size] for i in range(0, len(steps), batch_size)]
        started = time.perf_counter()
        applied = 0
        for step_batch in step_batches:
            applied += (await repository.apply_case_events(step_batch)).applied
        steps_pass = time.perf_counter() - started
        print(
            f"case events (accepted, responded, resolved, callback): {applied} applied in {steps_pass:.2f}s "
            f"= {len(steps) / steps_pass:,.0f} case events/s"
        )
        started = time.perf_counter()
        duplicates = 0
        for step_batch in step_batches:
            duplicates += (await repository.apply_case_events(step_batch)).duplicates
        replay_steps = time.perf_counter() - started
        print(f"case events replayed: {duplicates} duplicates skipped in {replay_steps:.2f}s")
        started = time.perf_counter()
        equal = await repository.stored_counters() == await repository.computed_counters()
        print(f"rebuild check over {calls} cases: counters equal = {equal} ({time.perf_counter() - started:.2f}s)")
    finally:
        await client.drop_database(name)
        await client.close()


OPERATORS_PER_QUEUE = 5


async def measure_assignments(
    repository: MetricsRepository, events: list[CallRouted], batch_size: int, *, deepest: str | None
) -> None:
    """承办人: every open case assigned to one of a few operators (``assigned`` steps/s), then each operator's load
    of the deepest queue read from its counter (``GET /v1/queues/{id}/load``) against counting it on the cases."""
    steps = [
        CaseEvent(
            call_id=event.call_id,
            kind="assigned",
            actor="bench",
            assignee=f"operator-{i % OPERATORS_PER_QUEUE}",
            occurred_at=event.call.received_at + timedelta(minutes=5),
        )
        for i, event in enumerate(events)
    ]
    started = time.perf_counter()
    applied = 0
    for start in range(0, len(steps), batch_size):
        applied += (await repository.apply_case_events(steps[start : start + batch_size])).applied
    elapsed = time.perf_counter() - started
    print(f"assignments (承办人): {applied} applied in {elapsed:.2f}s = {len(steps) / elapsed:,.0f} assigned steps/s")
    if deepest is None:
        return
    load_times, count_times = [], []
    for _ in range(10):
        started = time.perf_counter()
        load = await repository.reads.queue_load(deepest)
        load_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        counted = {
            name: await repository.database.cases.count_documents(
                {"queue_ids": deepest, "queue_id": deepest, "status": "dispatched", "assignee": name}
            )
            for name in load.assignees
        }
        count_times.append(time.perf_counter() - started)
    load_times.sort()
    count_times.sort()
    print(
        f"load of {deepest} ({load.open} open, {len(load.assignees)} operators): counter read median "
        f"{load_times[5] * 1000:.1f} ms; counting the cases instead {count_times[5] * 1000:.1f} ms "
        f"(same figures: {counted == load.assignees})"
    )


def lifecycle_steps(events: list[CallRouted]) -> list[CaseEvent]:
    """Four steps per call, in order: accepted, responded, resolved, callback (a mix of answers)."""
    answers = ("satisfied", "satisfied", "basically_satisfied", "dissatisfied", "unreachable")
    steps = []
    for i, event in enumerate(events):
        at = event.call.received_at
        steps += [
            CaseEvent(call_id=event.call_id, kind="accepted", actor="bench", occurred_at=at + timedelta(minutes=10)),
            CaseEvent(call_id=event.call_id, kind="responded", actor="bench", occurred_at=at + timedelta(minutes=40)),
            CaseEvent(call_id=event.call_id, kind="resolved", actor="bench", occurred_at=at + timedelta(days=2)),
            CaseEvent(
                call_id=event.call_id,
                kind="callback",
                actor="bench",
                occurred_at=at + timedelta(days=3),
                callback_result=answers[i % len(answers)],
            ),
        ]
    # Delivered per call in order but interleaved across calls, as partitions would.
    return sorted(steps, key=lambda step: step.occurred_at)


def month_counters(month: str, cases: int, *, queues: int, rng: random.Random) -> list[dict[str, object]]:
    """The counter documents ``cases`` cases received in ``month`` leave: units, districts, categories, problems."""
    numbers = queue_numbers(cases // 50, queues=queues, spread="zipf", seed=rng.randrange(10**6))
    per_queue = [0] * queues
    for number in numbers:
        per_queue[number] += 50
    documents: list[dict[str, object]] = []
    for queue, count in enumerate(per_queue):
        district = DISTRICTS[queue % len(DISTRICTS)]
        kind = "street" if queue < queues - 47 else "department"
        unit = (
            QueueId.for_street(district, f"街道{queue:03d}")
            if kind == "street"
            else QueueId.for_department(f"委办局{queue:03d}")
        )
        value = str(unit)
        dispatched = count
        responded = int(dispatched * rng.uniform(0.9, 1.0))
        reached = int(dispatched * 0.8)
        satisfied = int(reached * rng.uniform(0.7, 0.9))
        basic = int((reached - satisfied) * 0.6)
        documents.append(
            {
                "_id": f"{month}|unit|{value}",
                "month": month,
                "dimension": "unit",
                "value": value,
                "unit_kind": kind,
                "label": unit.label,
                "count": count,
                "dispatched": dispatched,
                "responded": responded,
                "responded_on_time": int(responded * 0.97),
                "resolved": int(dispatched * rng.uniform(0.8, 0.97)),
                "satisfied": satisfied,
                "basically_satisfied": basic,
                "dissatisfied": reached - satisfied - basic,
                "unreachable": dispatched - reached,
            }
        )
    streets = {
        field_key(str(d["value"])): {k: v for k, v in d.items() if k in UNIT_FIELDS}
        for d in documents
        if d["unit_kind"] == "street"
    }
    documents.append(
        {"_id": streets_counter_id(month), "month": month, "dimension": "streets", "value": "all", "units": streets}
    )
    for dimension, values in (("district", DISTRICTS), ("category", CATEGORIES), ("issue", ISSUES)):
        share = cases // len(values)
        for value in values:
            doc: dict[str, object] = {"_id": f"{month}|{dimension}|{value}", "month": month, "dimension": dimension}
            doc.update(value=value, count=int(share * rng.uniform(0.7, 1.3)), dispatched=share)
            documents.append(doc)
    return documents


ISSUES = tuple(sorted(MONTHLY_QUESTION_IDS))


async def measure_reads(
    uri: str, settings: MetricsSettings, *, cases_per_month: int, months: int, queues: int, repeats: int
) -> None:
    """Time every dashboard figure on counters sized for ``cases_per_month`` cases a month."""
    from services.metrics.queries import Scoreboard

    client = mongo_client(MongoSettings(uri=uri))
    name = f"bench_reads_{uuid.uuid4().hex[:10]}"
    try:
        repository = MetricsRepository(client[name])
        await repository.ensure_indexes()
        rng = random.Random(7)
        month = "2026-04"
        all_months = [month]
        while len(all_months) < months:
            all_months.insert(0, previous_month(all_months[0]))
        documents = [d for m in all_months for d in month_counters(m, cases_per_month, queues=queues, rng=rng)]
        documents += [
            {"_id": f"queue|q{q}", "dimension": "queue", "queue_id": f"q{q}", "open": 100 + q, "dispatched": 10_000}
            for q in range(queues)
        ]
        started = time.perf_counter()
        for start in range(0, len(documents), 1000):
            await client[name].counters.insert_many(documents[start : start + 1000])
        print(
            f"read path: {len(documents)} counter documents for {months} months of {cases_per_month:,} cases "
            f"written in {time.perf_counter() - started:.1f}s"
        )
        board = Scoreboard(repository.reads, repository.programme, settings)
        figures = {
            "GET /v1/scoreboard/units?kind=street (三率, composite, rank)": lambda: board.units(month, "street"),
            "GET /v1/scoreboard/units?kind=district": lambda: board.units(month, "district"),
            "GET /v1/scoreboard/top (top ten by volume)": lambda: board.top_streets(month),
            "GET /v1/supervision (6 months of evidence)": lambda: board.supervision(month),
            "GET /v1/problems/trend (6 months)": lambda: board.problem_trend(month),
            "GET /v1/programme (with progress and trend)": lambda: board.programme(month),
            "GET /v1/queues": repository.queues,
            "GET /v1/metrics/monthly?dimension=category": lambda: repository.monthly_counts(month, "category"),
        }
        for label, read in figures.items():
            await read()  # warm
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                await read()
                times.append(time.perf_counter() - started)
            times.sort()
            print(f"  {label}: median {times[len(times) // 2] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")
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
    parser.add_argument("--cases-per-month", type=int, default=1_000_000, help="read path: cases a month")
    parser.add_argument("--months", type=int, default=12, help="read path: months of counters")
    parser.add_argument("--repeats", type=int, default=20, help="read path: timed reads per figure")
    parser.add_argument("--skip-writes", action="store_true", help="only measure the read path")
    args = parser.parse_args()
    settings = MetricsSettings()

    def run(uri: str) -> None:
        if not args.skip_writes:
            asyncio.run(
                measure(uri, calls=args.calls, batch_size=args.batch_size, queues=args.queues, spread=args.spread)
            )
        asyncio.run(
            measure_reads(
                uri,
                settings,
                cases_per_month=args.cases_per_month,
                months=args.months,
                queues=args.queues,
                repeats=args.repeats,
            )
        )

    if args.embedded:
        with private_database() as uri:
            run(uri)
    else:
        run(settings.mongodb.uri)


if __name__ == "__main__":
    main()
