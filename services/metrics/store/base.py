"""The metrics service's MongoDB database: its collections, the one-writer lock, transactions, lookups by id.

Every focused store of this package (``cases``, ``counters``, ``deadlines``, ``hotspots``, ``outbox``,
``pending``, ``programme``, ``reads``, ``rebuild``) works on one shared :class:`MetricsDatabase`, so they
take the same write lock and the same transaction helper.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.metrics.case_facts import OPEN_STATUSES
from shared.cases import CASES_COLLECTION, IDS_PER_QUERY
from shared.clock import DEFAULT_TIMEZONE

CASES = CASES_COLLECTION  # defined once, with the case document, in shared.cases
COUNTERS = "counters"
PENDING = "pending_events"
OUTBOX = "outbox"
HOTSPOTS = "hotspots"
PROGRAMME = "programme"
OPEN_CASES = "open_cases"
WORD_BLOCKS = "word_blocks"


class MetricsDatabase:
    """The metrics collections in one MongoDB database (``AsyncDatabase`` of PyMongo's native async API)."""

    def __init__(
        self, db: AsyncDatabase, *, timezone: str = DEFAULT_TIMEZONE, ids_per_lookup: int = IDS_PER_QUERY
    ) -> None:
        self.db = db
        self.timezone = timezone
        # The embedded database answers {_id: {$in: ids}} in time quadratic in len(ids) (500 ids: 0.21 s,
        # 5 x 100 ids: 0.07 s, 2,000 ids: 3 s), so lookups by id go in slices (shared.cases.IDS_PER_QUERY).
        self.ids_per_lookup = ids_per_lookup
        self.cases = db[CASES]
        self.counters = db[COUNTERS]
        self.pending = db[PENDING]
        self.outbox = db[OUTBOX]
        self.hotspots = db[HOTSPOTS]
        self.programme = db[PROGRAMME]
        self.open_cases = db[OPEN_CASES]  # the queue digests (store/open_cases.py)
        self.word_blocks = db[WORD_BLOCKS]  # every case's words by hour received (store/word_blocks.py)
        # One writer at a time in this process: the routed and case-event agents, the deadline watcher and
        # the hot-spot check touch the same counters (transactions still guard several processes).
        self.write_lock = asyncio.Lock()

    async def ensure_indexes(self) -> None:
        """Create the indexes every query and upsert relies on (safe to run again)."""
        # Each secondary index costs ~20 ms per 500 inserted cases on the embedded database: only these five.
        await self.cases.create_index(
            [("queue_ids", ASCENDING), ("status", ASCENDING), ("received_at", ASCENDING)],
            name="queue_ids_status_received",
        )
        # A queue's urgent cases (order=urgent) without reading the whole queue: equality on every field.
        await self.cases.create_index(
            [("queue_ids", ASCENDING), ("assignment.priority", ASCENDING), ("status", ASCENDING)],
            name="queue_ids_priority_status",
        )
        await self.cases.create_index([("next_due_at", ASCENDING)], name="next_due")
        # The router's duplicate detection (same problem at the same address, or same citizen, recently).
        await self.cases.create_index(
            [("call.location.address", ASCENDING), ("received_at", DESCENDING)], name="duplicates_by_address"
        )
        await self.cases.create_index(
            [("call.contact.hash", ASCENDING), ("received_at", DESCENDING)], name="duplicates_by_contact"
        )
        await self.counters.create_index([("dimension", ASCENDING), ("month", ASCENDING)], name="dimension_month")
        await self.pending.create_index([("call_id", ASCENDING), ("seq", ASCENDING)], name="call_seq")
        await self.hotspots.create_index([("detected_at", DESCENDING)], name="detected")
        await self.open_cases.create_index([("queue_id", ASCENDING)], name="queue")

    async def ping(self) -> bool:
        """Whether the database answers."""
        reply = await self.db.command("ping")
        return bool(reply.get("ok"))

    async def transaction(self, callback: Any) -> Any:
        """Run ``callback(session)`` in one multi-document transaction, one writer of this process at a time."""
        async with self.write_lock, self.db.client.start_session() as session:
            # with_transaction retries the whole callback on TransientTransactionError (write conflicts,
            # e.g. two workers racing on the same calls during a rebalance) and the commit on unknown results.
            return await session.with_transaction(callback)

    async def find_by_ids(
        self, collection: Any, ids: Sequence[str], session: AsyncClientSession | None, projection: Any = None
    ) -> dict[str, dict[str, Any]]:
        """The documents of ``collection`` with these ids, by id (looked up in slices of ``ids_per_lookup``)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), self.ids_per_lookup):
            chunk = list(ids[start : start + self.ids_per_lookup])
            async for doc in collection.find({"_id": {"$in": chunk}}, projection, session=session):
                found[doc["_id"]] = doc
        return found

    async def open_cases_of(
        self,
        queue_id: str,
        condition: dict[str, Any] | None = None,
        projection: Any = None,
        session: AsyncClientSession | None = None,
    ) -> list[dict[str, Any]]:
        """A queue's open cases (led or cooperating) meeting ``condition``, read one open status at a time.

        Bounded by the queue's open cases, not by all it ever had: an equality on each field of the
        (queue_ids, status, ...) indexes keeps the embedded database's read to the matches. It leaves the index
        for ``$in`` on ``status`` or for a field the index does not cover (``queue_id``: 2.2 s for a queue of
        31,635 cases against 0.08 s for its 1,444 open ones, docs/performance.md), so the lead is checked by the
        caller, not in the query."""
        found: list[dict[str, Any]] = []
        for status in OPEN_STATUSES:
            query = {"queue_ids": queue_id, "status": status, **(condition or {})}
            found += [doc async for doc in self.cases.find(query, projection, session=session)]
        return found


COMPLETE = "_complete"
"""The marker document of a collection derived from the cases (``DerivedFromCases``): it is complete."""


class DerivedFromCases:
    """A collection computed from the stored cases (the queue digests, the word blocks): kept by the batches'
    writes, put in once for a store from before it (``ensure_complete``, at the worker's start), recomputed by
    ``hotline metrics rebuild``. Its ``COMPLETE`` marker says a backfill ran; once seen it is remembered (a store
    stays complete). A subclass names its ``collection`` and fills it (``_backfill``, ending in ``_mark_complete``).
    A subclass whose documents change shape raises its ``layout``: a store marked with another layout is emptied
    and filled again by ``ensure_complete`` (a marker without one is layout 1)."""

    layout = 1

    def __init__(self, database: MetricsDatabase) -> None:
        self.database = database
        self._complete = False

    @property
    def collection(self) -> Any:
        raise NotImplementedError

    async def complete(self) -> bool:
        """Whether the backfill has run on this store (remembered once seen)."""
        if not self._complete:
            layouts = [self.layout, None] if self.layout == 1 else [self.layout]
            marker = {"_id": COMPLETE, "layout": {"$in": layouts}}
            self._complete = await self.collection.find_one(marker, {"_id": 1}) is not None
        return self._complete

    async def ensure_complete(self) -> int:
        """Fill the collection if this store has never had it, or had it in an older layout (emptied first); how
        many cases were put in. One lookup once filled."""
        if await self.complete():
            return 0
        if await self.collection.find_one({"_id": COMPLETE}, {"_id": 1}) is not None:
            await self.collection.delete_many({})  # an older layout: written again from the cases
        return await self._backfill()

    async def rebuild(self) -> int:
        """Every document recomputed from the stored cases (for a store whose workers are stopped)."""
        await self.collection.delete_many({})
        self._complete = False
        return await self._backfill()

    async def _backfill(self) -> int:
        raise NotImplementedError

    async def _mark_complete(self) -> None:
        marked = {"at": datetime.now(UTC), "layout": self.layout}
        await self.collection.update_one({"_id": COMPLETE}, {"$set": marked}, upsert=True)
        self._complete = True
