"""A city's year of cases for ``hotline bench --stored N``: built through the metrics store's own write path.

``hotline bench --stored 1000000`` runs the pipeline benchmark on top of a store that already holds
N cases received over the twelve months before now, most of them finished as in real life. The store
is built once per size in ``.hotline/bench-store-<N>`` and reused by later runs (``seeded.json`` there
says what it holds; delete the folder to build it again).

What is written is exactly what the product writes, because it is written by the product's code:

- each case is a ``CallRouted`` event stored by ``MetricsRepository.apply_routed`` (the metrics worker's
  path: case document, counters, in one transaction per batch);
- its life is ``CaseEvent`` steps applied by ``MetricsRepository.apply_case_events`` (accepted,
  responded, resolved, callback, closed; some returned and re-dispatched (退单), whistled (吹哨), or
  linked as duplicates of an earlier case at the same place);
- deadlines then passed are flagged by the deadline watcher's own ``flag_overdue``; the CaseOverdue
  messages it queues are marked published, as the worker would have done long ago.

About 5% of the cases stay open: every case of the last ten days, and a few older ones that are still
unresolved (flagged overdue).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.common.progress import progress_bars
from services.metrics.repository import MetricsRepository
from shared import events
from shared.queues import QueueId
from shared.reference import LEVEL1_CATEGORIES, MONTHLY_QUESTION_IDS

MARKER = "seeded.json"
STORE_FORMAT = 2
"""The layout of what a seeded store holds, written in its marker: 2 since the daily area counters became one
document per street/town and day (before: per street, problem and day). A store of another format is not reused."""
SOURCE = "seed"
DISTRICTS = ("东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区", "大兴区", "通州区", "昌平区", "顺义区")
STREETS_PER_DISTRICT = 30
ANSWERS = ("satisfied", "satisfied", "satisfied", "basically_satisfied", "dissatisfied", "unreachable")
DEPARTMENTS = ("department:市城管委", "department:市住房城乡建设委", "department:市人力资源社会保障局")
RECENT_DAYS = 10  # every case received since then is still open
OLD_OPEN_SHARE = 0.022  # of the older cases, still unresolved: with the recent ones ~5% open
RETURNED_SHARE = 0.04
WHISTLE_SHARE = 0.02
DUPLICATE_SHARE = 0.03


@dataclass(frozen=True)
class SeededCase:
    """One case of the history: its routed event and its steps, in order."""

    routed: events.CallRouted
    steps: list[events.CaseEvent]


def store_folder(root: Path, count: int) -> Path:
    """The folder of the reusable store of ``count`` cases."""
    return root / f"bench-store-{count}"


def read_marker(folder: Path) -> dict[str, object] | None:
    """What ``seeded.json`` says the store holds, or None when it was never completed."""
    path = folder / MARKER
    return json.loads(path.read_text()) if path.exists() else None


def _queue(rng: random.Random) -> tuple[str, str]:
    district_index = min(int(rng.paretovariate(1.2)) - 1, len(DISTRICTS) - 1)
    street_index = min(int(rng.paretovariate(1.1)) - 1, STREETS_PER_DISTRICT - 1)
    return DISTRICTS[district_index], f"街道{street_index:02d}"


def history(count: int, now: datetime, seed: int = 2026) -> Iterator[SeededCase]:
    """``count`` cases received evenly over the 365 days before ``now``, oldest first, with their steps."""
    rng = random.Random(seed)
    categories = sorted(LEVEL1_CATEGORIES)
    issues = sorted(MONTHLY_QUESTION_IDS)
    start = now - timedelta(days=365)
    spacing = timedelta(days=365) / max(count, 1)
    last_at_queue: dict[str, str] = {}
    for i in range(count):
        received_at = start + spacing * i
        district, street = _queue(rng)
        queue_id = str(QueueId.for_street(district, street))
        duplicate_of = last_at_queue.get(queue_id) if rng.random() < DUPLICATE_SHARE else None
        call_id = events.call_id_for(SOURCE, str(i))
        assignment = events.Assignment(
            queue_id=queue_id,
            unit_kind=events.UnitKind.street,
            unit_name=street,
            district=district,
            street=street,
            catalogue_version="seed",
            reason="seeded history",
            response_due_at=received_at + timedelta(hours=24),
            resolution_due_at=received_at + timedelta(days=15),
            duplicate_of=duplicate_of,
        )
        routed = events.CallRouted(
            call_id=call_id,
            occurred_at=received_at + timedelta(seconds=2),
            call=events.Call(
                channel=events.Channel.phone,
                source_system=SOURCE,
                external_id=str(i),
                subject="诉求",
                body="一年的历史诉求 a year of seeded requests",
                language="zh",
                location=events.Location(
                    district=district, street=street, address=f"{district}{street}{rng.randrange(1, 400)}号"
                ),
                received_at=received_at,
            ),
            classification=events.Classification(
                category=categories[rng.randrange(len(categories))],
                issue=issues[rng.randrange(len(issues))] if rng.random() < 0.2 else None,
                confidence=0.9,
                model_version="seed",
            ),
            assignment=assignment,
        )
        last_at_queue[queue_id] = str(call_id)
        steps = [] if duplicate_of else _steps(routed, now, rng)
        yield SeededCase(routed, steps)


def _steps(routed: events.CallRouted, now: datetime, rng: random.Random) -> list[events.CaseEvent]:
    """The steps a case took by ``now``: all the way to closed, or part of the way when it is still open."""
    at = routed.call.received_at
    age = now - at
    if age < timedelta(days=RECENT_DAYS):
        stage = 0 if age < timedelta(hours=2) else 1 if age < timedelta(hours=6) else 2
    elif rng.random() < OLD_OPEN_SHARE:
        stage = 2  # responded long ago, still unresolved
    else:
        stage = 5
    call_id = routed.call_id

    def step(kind: str, after: timedelta, **fields: object) -> events.CaseEvent:
        return events.CaseEvent(call_id=call_id, kind=kind, actor="seed", occurred_at=at + after, **fields)  # type: ignore[arg-type]

    steps: list[events.CaseEvent] = []
    if stage >= 1:
        steps.append(step("accepted", timedelta(minutes=10)))
        if rng.random() < RETURNED_SHARE:
            again = routed.assignment.model_copy(update={"attempt": 2, "reason": "re-dispatched after return"})
            steps += [
                step("returned", timedelta(minutes=20), note="不属于本单位职责"),
                step("dispatched", timedelta(minutes=30), assignment=again),
                step("accepted", timedelta(minutes=40)),
            ]
    if stage >= 2:
        steps.append(step("responded", timedelta(hours=2)))
        if rng.random() < WHISTLE_SHARE:
            steps.append(step("whistle", timedelta(hours=3), departments=[rng.choice(DEPARTMENTS)]))
    if stage >= 5:
        answer = ANSWERS[rng.randrange(len(ANSWERS))]
        steps += [
            step("resolved", timedelta(days=rng.randint(1, 6))),
            step("callback", timedelta(days=7), callback_result=answer),
            step("closed", timedelta(days=7, hours=1)),
        ]
    return steps


async def seed_store(
    repository: MetricsRepository, count: int, *, batch: int = 500, now: datetime | None = None
) -> dict[str, object]:
    """Write ``count`` seeded cases through the metrics store (progress bars on standard error); what was done."""
    now = now or datetime.now(UTC)
    await repository.ensure_indexes()
    # On the empty store this only writes the word blocks' marker, as the worker does at its first start: the
    # seeded cases' blocks are then written by the batches below. Without it the first worker to open the store
    # would read every seeded case again to build them (2 minutes at 100,000), during the benchmark.
    await repository.backfill_word_blocks()
    started = time.perf_counter()
    cases = history(count, now)
    written = steps = rejected = 0
    with progress_bars() as progress:
        task = progress.add_task("seeding cases", total=count)
        while True:
            chunk = [case for _, case in zip(range(batch), cases, strict=False)]
            if not chunk:
                break
            # Each case with its life so far in one write: the store applies the steps in order to the new case in
            # memory, as it applies steps that came before their case, and derives the counters from the result.
            result = await repository.apply_routed_with_steps(
                [case.routed for case in chunk], {str(case.routed.call_id): case.steps for case in chunk}
            )
            rejected += len(result.rejected)
            written += result.applied
            steps += result.steps_applied
            progress.advance(task, len(chunk))
        flagged = 0
        watcher = progress.add_task("deadline watcher", total=None)
        while flagged_now := await repository.flag_overdue(now, limit=500):
            flagged += flagged_now
            # CaseOverdue of a past year: the worker would have published them long ago.
            messages = await repository.outbox_messages(limit=2000)
            await repository.mark_published([message["_id"] for message in messages])
            progress.update(watcher, advance=flagged_now, description=f"deadline watcher: {flagged} flagged")
    return {
        "stored": count,
        "new_cases": written,
        "steps_applied": steps,
        "steps_rejected": rejected,
        "deadlines_flagged": flagged,
        "seconds": round(time.perf_counter() - started, 1),
        "built_at": now.isoformat(),
    }


def build_or_reuse(folder: Path, count: int, database: str) -> dict[str, object]:
    """The store of ``count`` cases in ``folder`` (embedded database files in ``folder/db``): reused when a
    previous run completed it, else built now on a private database process."""
    from hotline.embedded import EmbeddedStack
    from services.common.mongo import mongo_client
    from shared.settings import MongoSettings

    marker = read_marker(folder)
    if marker is not None:
        if marker.get("format", 1) != STORE_FORMAT:
            raise SystemExit(
                f"the store in {folder} was built by an older release (format {marker.get('format', 1)}, now "
                f"{STORE_FORMAT}: its counters are laid out differently); delete the folder to build it anew"
            )
        return marker
    folder.mkdir(parents=True, exist_ok=True)
    stack = EmbeddedStack(home=folder)
    stack.start(broker=False)
    try:

        async def seed() -> dict[str, object]:
            client = mongo_client(MongoSettings(uri=stack.mongodb_uri))
            try:
                return await seed_store(MetricsRepository(client[database]), count)
            finally:
                await client.close()

        done = asyncio.run(seed())
    finally:
        stack.stop()
    done["format"] = STORE_FORMAT
    (folder / MARKER).write_text(json.dumps(done, indent=2) + "\n")
    return done
