"""The metrics store in MongoDB as one object: the focused stores of ``services.metrics.store`` wired together.

A thin façade for the callers that use the store as a whole — the worker's agents and timers, ``hotline
metrics rebuild``, the benchmark and the tests: each method hands over to the store that owns the concern
(``store.cases``, ``store.counters``, ``store.deadlines``, ``store.hotspots``, ``store.outbox``,
``store.open_cases``, ``store.word_blocks``, ``store.pending``, ``store.programme``, ``store.reads``, ``store.rebuild``). The read API and the
scoreboard take the one store they read (``reads``, ``hotspots``, ``programme``) instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.metrics.scoreboard import HotSpotThresholds
from services.metrics.store.base import CASES, MetricsDatabase
from services.metrics.store.cases import CaseWriter, EventsResult
from services.metrics.store.counters import CounterWriter
from services.metrics.store.deadlines import DeadlineStore
from services.metrics.store.hotspots import HotSpotStore
from services.metrics.store.open_cases import OpenCaseDigests
from services.metrics.store.outbox import Outbox
from services.metrics.store.pending import PendingEvents
from services.metrics.store.programme import ProgrammeResult, ProgrammeStore
from services.metrics.store.reads import MetricsReads, MonthlyCount, QueueSummary
from services.metrics.store.rebuild import CounterRebuild
from services.metrics.store.word_blocks import WordBlocks
from shared.cases import IDS_PER_QUERY
from shared.clock import DEFAULT_TIMEZONE
from shared.events import CallRouted, CaseEvent, ProgrammeItemUpdated

__all__ = ["CASES", "EventsResult", "MetricsRepository", "MonthlyCount", "ProgrammeResult", "QueueSummary"]


class MetricsRepository:
    """Every metrics store on one database (``AsyncDatabase`` of PyMongo's native async API)."""

    def __init__(
        self, db: AsyncDatabase, *, timezone: str = DEFAULT_TIMEZONE, ids_per_lookup: int = IDS_PER_QUERY
    ) -> None:
        self.database = MetricsDatabase(db, timezone=timezone, ids_per_lookup=ids_per_lookup)
        self.counters = CounterWriter(self.database)
        self.pending = PendingEvents(self.database)
        self.outbox = Outbox(self.database)
        self.case_writer = CaseWriter(self.database, self.counters, self.pending)
        self.deadlines = DeadlineStore(self.database, self.counters, self.outbox)
        self.hotspots = HotSpotStore(self.database, self.outbox)
        self.programme = ProgrammeStore(self.database)
        self.reads = MetricsReads(self.database)
        self.counter_rebuild = CounterRebuild(self.database)
        self.open_cases = OpenCaseDigests(self.database)
        self.word_blocks = WordBlocks(self.database)

    @property
    def timezone(self) -> str:
        return self.database.timezone

    async def ensure_indexes(self) -> None:
        """The indexes, and the queues' open-case digests of a store written before they existed (once)."""
        await self.database.ensure_indexes()
        await self.open_cases.ensure_complete()

    async def backfill_word_blocks(self) -> int:
        """The word blocks of a store written before they existed (once; the worker runs it beside its work, as
        it reads every case: 136,000 in about 2.5 minutes); how many cases were put in."""
        return await self.word_blocks.ensure_complete()

    async def ping(self) -> bool:
        return await self.database.ping()

    # ---- writes (the worker) ------------------------------------------------------------------------

    async def apply_routed(self, batch: Sequence[CallRouted]) -> int:
        """Store the batch's new cases (with any events waiting for them) and their counters; the new cases' count."""
        return (await self.case_writer.store_routed(batch)).applied

    async def apply_routed_with_steps(
        self, batch: Sequence[CallRouted], steps: dict[str, list[CaseEvent]]
    ) -> EventsResult:
        """New cases stored with their whole life so far, applied in memory as waiting events are (seeding)."""
        return await self.case_writer.store_routed(batch, known_steps=steps)

    async def apply_routed_detailed(self, batch: Sequence[CallRouted]) -> EventsResult:
        """``apply_routed`` with what the pending events did and the areas the new cases touched."""
        return await self.case_writer.store_routed(batch)

    async def apply_case_events(self, batch: Sequence[CaseEvent]) -> EventsResult:
        return await self.case_writer.apply_case_events(batch)

    async def retry_pending(self, limit: int = 500) -> EventsResult:
        return await self.case_writer.retry_pending(limit)

    async def pending_count(self) -> int:
        return await self.pending.count()

    async def flag_overdue(self, now: datetime | None = None, limit: int = 200) -> int:
        return await self.deadlines.flag_overdue(now, limit)

    async def detect_hotspots(self, touched: Iterable[tuple[str, str, str, str]], thresholds: HotSpotThresholds) -> int:
        return await self.hotspots.detect(touched, thresholds)

    async def outbox_messages(self, limit: int = 500) -> list[dict[str, Any]]:
        return await self.outbox.messages(limit)

    async def mark_published(self, ids: Sequence[str]) -> None:
        await self.outbox.mark_published(ids)

    async def apply_programme_updates(self, events: Sequence[ProgrammeItemUpdated]) -> ProgrammeResult:
        return await self.programme.apply(events)

    # ---- rebuild ------------------------------------------------------------------------------------

    async def computed_counters(self) -> dict[str, dict[str, Any]]:
        return await self.counter_rebuild.computed_counters()

    async def stored_counters(self) -> dict[str, dict[str, Any]]:
        return await self.counter_rebuild.stored_counters()

    async def rebuild(self) -> int:
        """Every counter, the queues' open-case digests and the word blocks recomputed from the cases; the counters
        written."""
        written = await self.counter_rebuild.rebuild()
        await self.open_cases.rebuild()
        await self.word_blocks.rebuild()
        return written

    # ---- reads --------------------------------------------------------------------------------------

    async def queues(self) -> list[QueueSummary]:
        return await self.reads.queues()

    async def oldest_waiting(self, queue_id: str, session: AsyncClientSession | None = None) -> dict[str, Any] | None:
        return await self.counters.oldest_waiting(queue_id, session=session)

    async def queue_depth_by_count(self, queue_id: str) -> int:
        return await self.reads.queue_depth_by_count(queue_id)

    async def cases_of_queue(
        self,
        queue_id: str,
        *,
        limit: int = 50,
        before: datetime | None = None,
        after: datetime | None = None,
        oldest_first: bool = True,
        urgent_first: bool = False,
    ) -> list[dict[str, Any]]:
        return await self.reads.cases_of_queue(
            queue_id, limit=limit, before=before, after=after, oldest_first=oldest_first, urgent_first=urgent_first
        )

    async def get_case(self, call_id: str) -> dict[str, Any] | None:
        return await self.reads.get_case(call_id)

    async def monthly_counts(self, month: str, dimension: str) -> list[MonthlyCount]:
        return await self.reads.monthly_counts(month, dimension)

    async def monthly_counters(self, month: str, dimension: str, unit_kind: str | None = None) -> list[dict[str, Any]]:
        return await self.reads.monthly_counters(month, dimension, unit_kind)

    async def street_scoreboards(self, months: Sequence[str]) -> dict[str, dict[str, dict[str, int]]]:
        return await self.reads.street_scoreboards(months)

    async def hotspot_list(
        self, *, area: str | None = None, problem: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return await self.hotspots.newest_first(area=area, problem=problem, limit=limit)

    async def programme_updates(self) -> list[dict[str, Any]]:
        return await self.programme.updates()

    async def programme_history(self, problem_id: str) -> list[dict[str, Any]]:
        return await self.programme.history(problem_id)
