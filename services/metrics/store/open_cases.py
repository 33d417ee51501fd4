"""Queue digests (``open_cases``): what a search inside a queue reads instead of the queue's case documents.

One document per queue and hour received (``{_id: "<hour>|<queue>", queue_id, hour, cases: {call_id: entry}}``)
holds each open case's ``case_search.search_entry`` (status, received time, priority, deadlines, overdue flags,
district, category path, subject, body, address) as one compact JSON string: a few hundred bytes a case, where
the case document with its history is several kilobytes and a dozen values, and one query on the ``queue``
index reads them all. An hour keeps each document small, so a batch's update rewrites little even in a
department's queue that gets thousands of cases a day. A case is in the digest
of every queue it waits in while it is open (led or cooperating) and leaves it when it closes.

The metrics store keeps them in the transaction that changes the case and its counters (``CounterChanges``
collects the entries that changed, ``CounterWriter`` writes them), so they are exactly as right as the
counters; ``hotline metrics rebuild`` recomputes them with the counters. A store written before the digests
existed has none: ``ensure_complete`` builds them once (the worker does at start) and marks the collection
complete; until then searches read the cases as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import UpdateOne

from services.metrics.case_facts import OPEN_STATUSES
from services.metrics.case_search import CaseFilter, entry_of, entry_text, open_entries
from services.metrics.store.base import MetricsDatabase

COMPLETE = "_complete"
"""The marker document's id: every open case of the store is in the digests."""


def digest_id(queue_id: str, hour: str) -> str:
    """The digest document of a queue's open cases received in one hour (UTC, ``2026-05-06T02``)."""
    return f"{hour}|{queue_id}"


def digest_updates(changes: Mapping[tuple[str, str], Mapping[str, dict[str, Any] | None]]) -> list[UpdateOne]:
    """One upsert per changed digest: entries set, cases that left unset."""
    updates = []
    for (queue_id, hour), entries in changes.items():
        update: dict[str, Any] = {
            "$set": {
                "queue_id": queue_id,
                "hour": hour,
                **{f"cases.{call_id}": entry_text(entry) for call_id, entry in entries.items() if entry is not None},
            }
        }
        left = {f"cases.{call_id}": "" for call_id, entry in entries.items() if entry is None}
        if left:
            update["$unset"] = left
        updates.append(UpdateOne({"_id": digest_id(queue_id, hour)}, update, upsert=True))
    return updates


class OpenCaseDigests:
    """Reads and rebuilds the ``open_cases`` digests (the writes ride on ``CounterWriter.write_changes``)."""

    def __init__(self, database: MetricsDatabase) -> None:
        self.database = database
        self._complete = False

    async def complete(self) -> bool:
        """Whether every open case is in the digests (remembered once seen: a store stays complete)."""
        if not self._complete:
            self._complete = await self.database.open_cases.find_one({"_id": COMPLETE}, {"_id": 1}) is not None
        return self._complete

    async def entries_of_queue(self, queue_id: str, found: CaseFilter | None = None) -> list[dict[str, Any]]:
        """The open cases of a queue as search entries (with ``_id``), on the ``queue`` index; with ``found``,
        only those whose stored text may hold its words are decoded (``CaseFilter.may_match_entry``)."""
        entries = []
        async for digest in self.database.open_cases.find({"queue_id": queue_id}, {"cases": 1}):
            entries += [
                entry_of(text, call_id)
                for call_id, text in (digest.get("cases") or {}).items()
                if found is None or found.may_match_entry(text)
            ]
        return entries

    async def ensure_complete(self) -> int:
        """Build the digests if this store has never had them (cases written before they existed); how many
        cases were put in. Cheap once built (one lookup)."""
        if await self.complete():
            return 0
        return await self.rebuild()

    async def rebuild(self) -> int:
        """Replace every digest with one computed from the stored open cases; the number of cases put in."""
        digests: dict[str, dict[str, Any]] = {}
        projection = dict.fromkeys(("queue_id", "queue_ids", "status", *_ENTRY_FIELDS), 1)
        # One pass over the cases (no index serves status alone): once per store, or on a rebuild.
        async for case in self.database.cases.find({"status": {"$in": sorted(OPEN_STATUSES)}}, projection):
            for (queue_id, hour), entry in open_entries(case).items():
                key = digest_id(queue_id, hour)
                digest = digests.setdefault(key, {"_id": key, "queue_id": queue_id, "hour": hour, "cases": {}})
                digest["cases"][case["_id"]] = entry_text(entry)
        collection = self.database.open_cases
        async with self.database.write_lock:
            await collection.delete_many({})
            documents = list(digests.values())
            for start in range(0, len(documents), 200):
                await collection.insert_many(documents[start : start + 200], ordered=False)
            await collection.insert_one({"_id": COMPLETE})
        self._complete = True
        return sum(len(d["cases"]) for d in documents)


_ENTRY_FIELDS = (
    "received_at",
    "district",
    "overdue",
    "assignment",
    "call.subject",
    "call.body",
    "call.location.address",
    "classification",
)
