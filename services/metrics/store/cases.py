"""Case store writes: routed calls become cases, lifecycle steps change them, with their counters.

Effects are exactly-once under at-least-once delivery. ``store_routed`` inserts only calls not stored
yet; ``apply_case_events`` skips events whose id the case's ``history`` already records. Each batch
stores its cases and the counter changes derived from them (``aggregates.CounterChanges``) in one
multi-document transaction: a crash before the commit leaves nothing, so redelivery redoes it all.
Events for cases not stored yet wait in ``pending_events`` until their case comes.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.aggregates import CounterChanges
from services.metrics.case_facts import apply_case_event, area_of, case_document, problem_of, unique_by_call
from services.metrics.store.base import MetricsDatabase
from services.metrics.store.counters import CounterWriter
from services.metrics.store.pending import PendingEvents, pending_document
from shared.events import CallRouted, CaseEvent

log = logging.getLogger(__name__)


@dataclass
class EventsResult:
    """What a batch of case events did."""

    applied: int = 0
    duplicates: int = 0
    pending: int = 0
    rejected: list[tuple[CaseEvent, str]] = field(default_factory=list)
    steps_applied: int = 0  # store_routed with known steps: how many of them (and of the waiting ones) applied
    touched_areas: set[tuple[str, str, str, str]] = field(default_factory=set)


class CaseWriter:
    """Writes ``cases`` (with their counters and pending events) in one transaction per batch."""

    def __init__(self, database: MetricsDatabase, counters: CounterWriter, pending: PendingEvents) -> None:
        self.database = database
        self.counters = counters
        self.pending = pending

    async def store_routed(
        self, batch: Sequence[CallRouted], known_steps: Mapping[str, Sequence[CaseEvent]] | None = None
    ) -> EventsResult:
        """Store the batch's new cases (with any events waiting for them) and their counters.

        The result counts the new cases and tells what the waiting events did and which areas the new
        cases touched (for the hot-spot check). ``known_steps`` (call id -> its steps, in order) are applied
        after the waiting events, exactly as waiting events are: the seeding of a past year
        (``hotline/seed.py``) stores each case with its whole life in one write instead of one per step.
        """
        events = unique_by_call(batch)
        if not events:
            return EventsResult()
        db = self.database

        async def in_transaction(session: AsyncClientSession) -> EventsResult:
            # Built afresh on each attempt: with_transaction runs this again after a transient error (a write
            # conflict, e.g. with a killed worker's transaction still open), and an attempt changes its cases.
            cases = [case_document(event, db.timezone) for event in events]
            result = EventsResult()
            existing = await db.find_by_ids(db.cases, [case["_id"] for case in cases], session, {"_id": 1})
            new_cases = [case for case in cases if case["_id"] not in existing]
            if not new_cases:
                return result
            stored_at = datetime.now(UTC)  # when the case became visible in its queue (latency figures)
            waiting = await self.pending.for_calls([case["_id"] for case in new_cases], session)
            changes = CounterChanges()
            for index, case in enumerate(new_cases):
                case["stored_at"] = stored_at
                for event in [*waiting.get(case["_id"], ()), *(known_steps or {}).get(case["_id"], ())]:
                    # A step redelivered before its case came waits twice: the second is a duplicate, whose
                    # outcome is the very same case (apply_case_event copies only what it changes).
                    outcome = apply_case_event(case, event)
                    case = outcome.case
                    if outcome.outcome == "rejected":
                        result.rejected.append((event, outcome.reason or "rejected"))
                    elif known_steps is not None and outcome.outcome == "applied":
                        result.steps_applied += 1
                new_cases[index] = case
                changes.add_case(None, case)
                area = area_of(case)
                if area:
                    result.touched_areas.add((area, problem_of(case), case["day"], case["_id"]))
            await db.cases.insert_many(new_cases, ordered=False, session=session)
            await self.counters.write_changes(changes, session)
            if waiting:
                await self.pending.forget(list(waiting), session)
            result.applied = len(new_cases)
            return result

        result: EventsResult = await db.transaction(in_transaction)
        log.debug("applied %d routed events: %d new cases", len(batch), result.applied)
        return result

    async def apply_case_events(self, batch: Sequence[CaseEvent]) -> EventsResult:
        """Apply lifecycle steps in order per case, in one transaction with their counter changes."""
        if not batch:
            return EventsResult()
        by_case: dict[str, list[CaseEvent]] = defaultdict(list)
        for event in batch:
            by_case[str(event.call_id)].append(event)
        db = self.database

        async def in_transaction(session: AsyncClientSession) -> EventsResult:
            result = EventsResult()
            stored = await db.find_by_ids(db.cases, list(by_case), session)
            waiting = await self.pending.for_calls(list(by_case), session)
            changes = CounterChanges()
            replaced: list[dict[str, Any]] = []
            parked: list[dict[str, Any]] = []
            seq = time.time()
            for call_id, events in by_case.items():
                if call_id not in stored:
                    for offset, event in enumerate(events):
                        parked.append(pending_document(event, seq + offset * 1e-6))
                    result.pending += len(events)
                    continue
                before = stored[call_id]
                case = before
                for event in [*waiting.get(call_id, ()), *events]:
                    outcome = apply_case_event(case, event)
                    case = outcome.case
                    if outcome.outcome == "duplicate":
                        result.duplicates += 1
                    elif outcome.outcome == "rejected":
                        result.rejected.append((event, outcome.reason or "rejected"))
                    else:
                        result.applied += 1
                if case is not before:
                    changes.add_case(before, case)
                    replaced.append(case)
            if replaced:
                await db.cases.bulk_write(
                    [ReplaceOne({"_id": case["_id"]}, case) for case in replaced], ordered=False, session=session
                )
            await self.pending.park(parked, session)
            applied_waiting = [call_id for call_id in waiting if call_id in stored]
            if applied_waiting:
                await self.pending.forget(applied_waiting, session)
            await self.counters.write_changes(changes, session)
            return result

        return await db.transaction(in_transaction)

    async def retry_pending(self, limit: int = 500) -> EventsResult:
        """Apply waiting events whose case is stored by now (events that came before their CallRouted)."""
        call_ids = await self.pending.call_ids(limit)
        if not call_ids:
            return EventsResult()
        stored = await self.database.find_by_ids(self.database.cases, call_ids, None, {"_id": 1})
        if not stored:
            return EventsResult()
        return await self._apply_waiting(list(stored))

    async def _apply_waiting(self, call_ids: list[str]) -> EventsResult:
        db = self.database

        async def in_transaction(session: AsyncClientSession) -> EventsResult:
            result = EventsResult()
            stored = await db.find_by_ids(db.cases, call_ids, session)
            waiting = await self.pending.for_calls(call_ids, session)
            changes = CounterChanges()
            for call_id, events in waiting.items():
                if call_id not in stored:
                    continue
                before = case = stored[call_id]
                for event in events:
                    outcome = apply_case_event(case, event)
                    case = outcome.case
                    if outcome.outcome == "rejected":
                        result.rejected.append((event, outcome.reason or "rejected"))
                    elif outcome.outcome == "applied":
                        result.applied += 1
                    else:
                        result.duplicates += 1
                changes.add_case(before, case)
                await db.cases.replace_one({"_id": call_id}, case, session=session)
            await self.pending.forget([c for c in waiting if c in stored], session)
            await self.counters.write_changes(changes, session)
            return result

        return await db.transaction(in_transaction)
