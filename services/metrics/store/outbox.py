"""The outbox: messages decided inside a transaction (CaseOverdue, HotSpotAlert), published after its commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.store.base import MetricsDatabase


def outbox_document(topic: str, event: Any) -> dict[str, Any]:
    """The outbox entry of an event to publish on ``topic`` (its id is the event's: one entry per event)."""
    return {
        "_id": str(event.event_id),
        "topic": topic,
        "key": str(event.call_id),
        "value": event.model_dump_json(),
        "created_at": datetime.now(UTC),
    }


class Outbox:
    """The ``outbox`` collection."""

    def __init__(self, database: MetricsDatabase) -> None:
        self.database = database

    async def put(self, document: dict[str, Any], session: AsyncClientSession) -> None:
        """Keep a message for publishing, inside the caller's transaction (once per id)."""
        await self.database.outbox.replace_one({"_id": document["_id"]}, document, upsert=True, session=session)

    async def messages(self, limit: int = 500) -> list[dict[str, Any]]:
        """Messages committed for publishing and not yet acknowledged by the broker."""
        return [doc async for doc in self.database.outbox.find({}).sort("created_at", ASCENDING).limit(limit)]

    async def mark_published(self, ids: Sequence[str]) -> None:
        """Forget outbox messages the broker acknowledged."""
        if ids:
            await self.database.outbox.delete_many({"_id": {"$in": list(ids)}})
