"""Queue digests (``open_cases``): what a search inside a queue reads instead of the queue's case documents.

One document per queue, hour received and storing batch (``{_id: "<hour>|<stored_at>|<queue>", queue_id, hour,
cases: {call_id: entry}}``, ``case_search.digest_batch``) holds each open case's ``case_search.search_entry`` (status, received time, priority, deadlines, overdue flags,
district, category path, subject, body, address) as one compact JSON string: a few hundred bytes a case, where
the case document with its history is several kilobytes and a dozen values, and one query on the ``queue``
index reads them all. A batch's new cases go into new documents of their own, so no write grows or rewrites
the documents of earlier batches: a batch's cost is its own, however busy the hour (the first layout, one
document per queue and hour, was re-encoded whole by every batch: 1.7 MB for a department's queue after 7,000
calls in an hour, most of the embedded database's CPU). A later step on a case changes the one document its
batch wrote, and a document its cases have all left is deleted. A case is in the digest
of every queue it waits in while it is open (led or cooperating) and leaves it when it closes.

The metrics store keeps them in the transaction that changes the case and its counters (``CounterChanges``
collects the entries that changed, ``CounterWriter`` writes them), so they are exactly as right as the
counters; ``hotline metrics rebuild`` recomputes them with the counters. A store written before the digests
existed has none: ``ensure_complete`` builds them once (the worker does when it first opens the store), slice
by slice in transactions beside the live writes, and marks the collection complete; until then searches read
the cases as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.case_facts import OPEN_STATUSES
from services.metrics.case_search import SEARCH_PATHS, CaseFilter, entry_of, entry_text, open_entries
from services.metrics.store.base import DerivedFromCases


def digest_id(queue_id: str, batch: str) -> str:
    """The digest document of a queue's open cases of one ``case_search.digest_batch`` (received hour, stored at)."""
    return f"{batch}|{queue_id}"


def emptied_digests(changes: Mapping[tuple[str, str], Mapping[str, dict[str, Any] | None]]) -> list[str]:
    """The digests some case left (``digest_updates`` unsets it): deleted once no case is left in them."""
    return [digest_id(queue_id, batch) for (queue_id, batch), entries in changes.items() if None in entries.values()]


def digest_updates(changes: Mapping[tuple[str, str], Mapping[str, dict[str, Any] | None]]) -> list[UpdateOne]:
    """One upsert per changed digest: entries set, cases that left unset."""
    updates = []
    for (queue_id, batch), entries in changes.items():
        update: dict[str, Any] = {
            "$set": {
                "queue_id": queue_id,
                "hour": batch.partition("|")[0],
                **{f"cases.{call_id}": entry_text(entry) for call_id, entry in entries.items() if entry is not None},
            }
        }
        left = {f"cases.{call_id}": "" for call_id, entry in entries.items() if entry is None}
        if left:
            update["$unset"] = left
        updates.append(UpdateOne({"_id": digest_id(queue_id, batch)}, update, upsert=True))
    return updates


class OpenCaseDigests(DerivedFromCases):
    """Reads and rebuilds the ``open_cases`` digests (the writes ride on ``CounterWriter.write_changes``)."""

    layout = 2  # 1: one document per queue and hour

    @property
    def collection(self) -> Any:
        return self.database.open_cases

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

    async def _backfill(self, slice_size: int = 200) -> int:
        """Put every open case in its digests: the open cases' ids in one pass (no index serves status alone),
        then each slice read again and written in a transaction of its own, so a worker changing one of those
        cases meanwhile conflicts and one of the two is retried: no entry is left stale. Then the marker."""
        ids = [
            case["_id"]
            async for case in self.database.cases.find({"status": {"$in": sorted(OPEN_STATUSES)}}, {"_id": 1})
        ]
        projection = dict.fromkeys(("queue_id", "queue_ids", "stored_at", *SEARCH_PATHS), 1)  # what open_entries reads
        put = 0
        for start in range(0, len(ids), slice_size):
            chunk = ids[start : start + slice_size]

            async def write(session: AsyncClientSession, chunk: list[str] = chunk) -> int:
                cases = await self.database.find_by_ids(self.database.cases, chunk, session, projection)
                changes: dict[tuple[str, str], dict[str, dict[str, Any] | None]] = {}
                for case in cases.values():
                    for key, entry in open_entries(case).items():
                        changes.setdefault(key, {})[case["_id"]] = entry
                updates = digest_updates(changes)
                if updates:
                    await self.database.open_cases.bulk_write(updates, ordered=False, session=session)
                return sum(len(entries) for entries in changes.values())

            put += await self.database.transaction(write)
        await self._mark_complete()
        return put
