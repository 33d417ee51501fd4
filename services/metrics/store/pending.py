"""Pending events: case steps that came before their case's CallRouted, kept until the case is stored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.store.base import MetricsDatabase
from shared.events import CaseEvent


def pending_document(event: CaseEvent, seq: float) -> dict[str, Any]:
    """A waiting event, ordered by ``seq`` among its case's waiting events."""
    return {"_id": str(event.event_id), "call_id": str(event.call_id), "seq": seq, "event": event.model_dump_json()}


class PendingEvents:
    """The ``pending_events`` collection."""

    def __init__(self, database: MetricsDatabase) -> None:
        self.database = database

    async def for_calls(
        self, call_ids: Sequence[str], session: AsyncClientSession | None
    ) -> dict[str, list[CaseEvent]]:
        """The events waiting for these cases, in arrival order per case."""
        waiting: dict[str, list[CaseEvent]] = defaultdict(list)
        step = self.database.ids_per_lookup
        for start in range(0, len(call_ids), step):
            chunk = list(call_ids[start : start + step])
            cursor = self.database.pending.find({"call_id": {"$in": chunk}}, session=session).sort("seq", ASCENDING)
            async for doc in cursor:
                waiting[doc["call_id"]].append(CaseEvent.model_validate_json(doc["event"]))
        return dict(waiting)

    async def park(self, documents: Sequence[dict[str, Any]], session: AsyncClientSession) -> None:
        """Keep events for cases not stored yet (once per event id)."""
        if documents:
            await self.database.pending.bulk_write(
                [ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in documents],
                ordered=False,
                session=session,
            )

    async def forget(self, call_ids: Sequence[str], session: AsyncClientSession) -> None:
        """Drop the events waiting for these cases (applied in the caller's transaction)."""
        await self.database.pending.delete_many({"call_id": {"$in": list(call_ids)}}, session=session)

    async def call_ids(self, limit: int) -> list[str]:
        """Up to ``limit`` waiting events' case ids, sorted (outside any transaction)."""
        return sorted({doc["call_id"] async for doc in self.database.pending.find({}, {"call_id": 1}).limit(limit)})

    async def count(self) -> int:
        """Events waiting for their case."""
        return await self.database.pending.count_documents({})
