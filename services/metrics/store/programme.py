"""每月一题 programme updates: an item's status with its version and history, each update applied once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.store.base import MetricsDatabase
from shared.events import ProgrammeItemUpdated
from shared.programme import LIST_OF_KIND


@dataclass
class ProgrammeResult:
    """What a batch of programme events did."""

    applied: int = 0
    duplicates: int = 0


class ProgrammeStore:
    """The ``programme`` collection: one document per updated item, recording the ids of the updates it applied."""

    def __init__(self, database: MetricsDatabase) -> None:
        self.database = database

    async def updates(self) -> list[dict[str, Any]]:
        """The latest status of every programme item that was updated (one document per item)."""
        return [doc async for doc in self.database.programme.find({}, {"history": 0, "event_ids": 0})]

    async def history(self, problem_id: str) -> list[dict[str, Any]]:
        """Every update of a problem's items, each with its version."""
        return [doc async for doc in self.database.programme.find({"problem_id": problem_id})]

    async def record(
        self,
        problem_id: str,
        kind: str,
        item_id: str,
        status: str,
        *,
        actor: str,
        event_id: uuid.UUID,
        at: datetime,
        note: str | None = None,
    ) -> dict[str, Any] | None:
        """Set an item's status, bump its version and keep the update in its history; the stored document.

        None when the update ``event_id`` was applied already (a redelivered or resubmitted event).
        """
        item_key = f"{problem_id}|{kind}|{item_id}"
        event_key = str(event_id)
        programme = self.database.programme

        async def in_transaction(session: AsyncClientSession) -> dict[str, Any] | None:
            if await programme.find_one({"_id": item_key, "event_ids": event_key}, {"_id": 1}, session=session):
                return None
            stored = await programme.find_one_and_update(
                {"_id": item_key},
                {
                    "$inc": {"version": 1},
                    "$set": {"status": status, "updated_at": at, "actor": actor, "note": note},
                    "$setOnInsert": {"problem_id": problem_id, "kind": kind, "item_id": item_id},
                    "$push": {
                        "history": {"status": status, "at": at, "actor": actor, "note": note, "event_id": event_key},
                        "event_ids": event_key,
                    },
                },
                upsert=True,
                return_document=True,
                session=session,
            )
            return dict(stored or {})

        result: dict[str, Any] | None = await self.database.transaction(in_transaction)
        return result

    async def apply(self, events: Sequence[ProgrammeItemUpdated]) -> ProgrammeResult:
        """Apply each programme event once, in order (checked against the programme by the caller)."""
        result = ProgrammeResult()
        for event in events:
            stored = await self.record(
                event.problem_id,
                LIST_OF_KIND[event.item_kind],
                event.item_id,
                event.status,
                actor=event.actor,
                event_id=event.event_id,
                at=event.occurred_at,
                note=event.note,
            )
            if stored is None:
                result.duplicates += 1
            else:
                result.applied += 1
        return result
