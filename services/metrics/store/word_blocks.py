"""Word blocks (``word_blocks``): what a word search over the whole store reads, an hour at a time, newest first.

A words index on the case documents cost the embedded database 2.4–4.7 ms more per stored case (measured,
docs/performance.md), and a search without one read every case (28–36 s at ≈136,000 cases). Instead, word
blocks hold each case's ``case_search.searchable_text`` (subject, body, address, category path, lowercased)
behind its receipt time, grouped by the hour received (UTC).

Each write (a batch's transaction, a backfill slice) **inserts** its own block per hour it touches,
``{_id: "2026-05-06T02|<stamp>", cases: {call_id: "<received>\t<text>"}}``, whose stamp (write time in
nanoseconds and a random suffix) sorts blocks of an hour in the order they were written. A block holds at most
one batch's entries, and no write ever rewrites an earlier block. The first design kept one growing document
per hour and upserted into it: every batch re-encoded the whole hour, so the database's cost per call grew with
the hour's calls (at 20,000 calls within an hour, an 8 MB document rewritten per batch and half of the embedded
database's CPU, py-spy under ``hotline bench``), and an hour of Beijing's peak volume would have passed
MongoDB's 16 MB document limit. When a case's text changes (a reclassification), its new entry goes into the new
block and the newest block of the hour wins on read; the older entry stays, unread. A block written by the
first design (``_id`` the bare hour) still reads, as the oldest of its hour.

Writes ride on the batch's transaction (``CounterChanges.word_blocks``, written by ``CounterWriter``): one
insert per hour a batch touches, the text written again only when it changed (a new case, a reclassification).

A search (``WordBlocks.page``) reads hours newest first from a cursor, a day of hours per query (a range on
``_id``), tests the words on the stored strings, and stops when the page is full or when it has looked at
``budget`` cases; it answers the hits and a cursor (``received_at|call_id`` of the last hit, or the hour it
stopped above), so each page costs at most ``budget`` entries whatever the store's size. ``hotline metrics
rebuild`` recomputes them; a store from before them gets them once (``ensure_complete``, at the worker's start).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import InsertOne, UpdateOne

from services.metrics.case_search import TEXT_PATHS, block_entry, hour_of
from services.metrics.store.base import DerivedFromCases
from shared.clock import as_utc

HOURS_PER_READ = 24
"""Blocks read in one query (ids generated, so the lookup is by ``_id``: well under the ``$in`` slice limit)."""

DEFAULT_BUDGET = 5000
"""Cases one page looks at, at most: the bound on a page's cost (docs/performance.md)."""

OLDEST = "_oldest"
"""The document holding the oldest block's hour (where a walk back ends)."""

HOURS_PREFIX = "_hours|"
"""``_hours|<month>``: the hours of a month (UTC) that have a block, so a walk skips the empty ones."""


def block_stamp() -> str:
    """A new block's stamp: the write time in nanoseconds (so an hour's blocks sort in write order) and a random
    suffix (two writers in the same nanosecond)."""
    return f"{time.time_ns():020d}.{os.urandom(4).hex()}"


def hour_of_block(block_id: str) -> str:
    """The hour a block holds (``2026-05-06T02|<stamp>``, or the bare hour of the first design)."""
    return block_id.partition("|")[0]


def block_updates(changes: Mapping[str, Mapping[str, str]], stamp: str | None = None) -> list[InsertOne | UpdateOne]:
    """One new block per touched hour (hour -> call id -> entry), its hour in its month's list, the oldest hour."""
    stamp = stamp or block_stamp()
    updates: list[InsertOne | UpdateOne] = [
        InsertOne({"_id": f"{hour}|{stamp}", "cases": dict(entries)}) for hour, entries in changes.items() if entries
    ]
    months: dict[str, list[str]] = {}
    for hour in sorted(changes):
        months.setdefault(hour[:7], []).append(hour)
    for month, hours in months.items():
        updates.append(
            UpdateOne({"_id": f"{HOURS_PREFIX}{month}"}, {"$addToSet": {"hours": {"$each": hours}}}, upsert=True)
        )
    if changes:
        updates.append(UpdateOne({"_id": OLDEST}, {"$min": {"hour": min(changes)}}, upsert=True))
    return updates


def _months_between(first: str, last: str) -> list[str]:
    """``YYYY-MM`` from ``last`` back to ``first`` (both included), newest first."""
    year, month = int(last[:4]), int(last[5:7])
    months = []
    while f"{year:04d}-{month:02d}" >= first:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


@dataclass(frozen=True)
class Cursor:
    """Where a newest-first walk goes on: strictly before (received_at, call id)."""

    received_at: datetime
    call_id: str = ""

    def encode(self) -> str:
        return f"{self.received_at.isoformat()}|{self.call_id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """``<ISO 8601>|<call id>`` (the call id may be empty); ValueError when malformed."""
        moment, sep, call_id = text.partition("|")
        if not sep:
            raise ValueError("a search cursor is '<received_at ISO 8601>|<call id>'")
        return cls(as_utc(datetime.fromisoformat(moment)), call_id)


@dataclass(frozen=True)
class WordPage:
    """A page of a whole-store word search: the hits newest first (call ids), where to go on, what it cost."""

    call_ids: list[str]
    next: Cursor | None
    looked_at: int
    hours: int


class WordBlocks(DerivedFromCases):
    """Reads, backfills and rebuilds ``word_blocks`` (its writes ride on ``CounterWriter.write_changes``); until
    its ``COMPLETE`` marker is there, a word search reads the cases."""

    @property
    def collection(self) -> Any:
        return self.database.word_blocks

    async def _hours(self, before: str) -> list[str]:
        """Every block hour older than ``before``, newest first, from the month lists (one lookup per 50 months)."""
        oldest = await self.database.word_blocks.find_one({"_id": OLDEST}, {"hour": 1})
        if oldest is None:
            return []
        months = _months_between(str(oldest["hour"])[:7], before[:7])
        hours: list[str] = []
        for start in range(0, len(months), 50):
            ids = [f"{HOURS_PREFIX}{month}" for month in months[start : start + 50]]
            async for doc in self.database.word_blocks.find({"_id": {"$in": ids}}, {"hours": 1}):
                hours += [hour for hour in doc.get("hours") or () if hour < before]
        return sorted(hours, reverse=True)

    async def page(
        self,
        words: Iterable[str],
        *,
        before: Cursor | None = None,
        wanted: int = 200,
        budget: int = DEFAULT_BUDGET,
        keep: Any = None,
        now: datetime | None = None,
    ) -> WordPage:
        """Up to ``wanted`` cases holding every word, newest first, received before ``before``; ``keep(ids)``
        (async, the ids of a block's word hits -> the ids that also meet the other filters) narrows them. Stops at
        ``budget`` cases looked at (then ``next`` says where to go on) or at the oldest block (``next`` None)."""
        lowered = [word.lower() for word in words]
        cursor = before or Cursor(as_utc(now or datetime.now(UTC)) + timedelta(hours=1))
        # A cursor at an hour's start with no call id ("go on below this hour") starts in the hour before.
        top = hour_of(cursor.received_at - timedelta(microseconds=0 if cursor.call_id else 1))
        hours = [top, *await self._hours(top)]  # the cursor's own hour too (entries before the cursor in it)
        hits: list[tuple[datetime, str]] = []
        looked_at = read = 0
        for start in range(0, len(hours), HOURS_PER_READ):
            ids = hours[start : start + HOURS_PER_READ]
            blocks = await self._read_hours(ids)
            for block in ids:  # newest first
                entries = blocks.get(block) or {}
                read += 1
                looked_at += len(entries)
                found = []
                for call_id, entry in entries.items():
                    received, _, text = entry.partition("\t")
                    if all(word in text for word in lowered):
                        moment = as_utc(datetime.fromisoformat(received))
                        if (moment, call_id) < (cursor.received_at, cursor.call_id):
                            found.append((moment, call_id))
                if found and keep is not None:
                    kept = set(await keep([call_id for _, call_id in found]))
                    found = [hit for hit in found if hit[1] in kept]
                hits += sorted(found, reverse=True)
                if len(hits) >= wanted:
                    return WordPage([c for _, c in hits[:wanted]], Cursor(*hits[wanted - 1]), looked_at, read)
                if looked_at >= budget and block != hours[-1]:
                    start_of_hour = datetime.strptime(block, "%Y-%m-%dT%H").replace(tzinfo=UTC)
                    return WordPage([c for _, c in hits], Cursor(start_of_hour), looked_at, read)
        return WordPage([c for _, c in hits], None, looked_at, read)

    async def entries_by_hour(self) -> dict[str, dict[str, str]]:
        """Every hour's entries as a search reads them (the newest entry of each case): for checks and tests."""
        return await self._merged(self.database.word_blocks.find({"_id": {"$lt": "_"}}))  # blocks, no markers

    async def _read_hours(self, hours: list[str]) -> dict[str, dict[str, str]]:
        """The entries of these hours (consecutive block hours), by hour: every block of each hour, read by one range
        on ``_id``, merged in write order so that a case's newest entry wins."""
        last = max(hours) + "}"  # "}" sorts after "|": every block of the newest hour, and no later hour
        return await self._merged(
            self.database.word_blocks.find({"_id": {"$gte": min(hours), "$lt": last}}, {"cases": 1})
        )

    @staticmethod
    async def _merged(found: Any) -> dict[str, dict[str, str]]:
        docs = sorted([(str(doc["_id"]), doc.get("cases") or {}) async for doc in found])
        merged: dict[str, dict[str, str]] = {}
        for block_id, entries in docs:  # an hour's bare id first, then its stamps in write order
            merged.setdefault(hour_of_block(block_id), {}).update(entries)
        return merged

    async def _backfill(self, slice_size: int = 2000) -> int:
        """Every case's entry in new blocks, a slice of ``slice_size`` cases at a time, then the marker. Not one
        transaction: a case whose text a live write changes between this read and the slice's insert keeps the
        older text until its next change or a rebuild with the workers stopped."""
        projection = dict.fromkeys(("received_at", *TEXT_PATHS), 1)  # what block_entry reads
        put = 0
        changes: dict[str, dict[str, str]] = {}
        async for case in self.database.cases.find({}, projection):
            changes.setdefault(hour_of(case["received_at"]), {})[str(case["_id"])] = block_entry(case)
            put += 1
            if put % slice_size == 0:
                await self.database.word_blocks.bulk_write(block_updates(changes), ordered=False)
                changes = {}
        if changes:
            await self.database.word_blocks.bulk_write(block_updates(changes), ordered=False)
        await self._mark_complete()
        return put
