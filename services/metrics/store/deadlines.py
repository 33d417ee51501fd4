"""The deadline watcher's store side: flag open cases past a deadline, once per case and deadline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.aggregates import CounterChanges
from services.metrics.case_facts import flag_overdue, next_due_at, overdue_deadlines
from services.metrics.store.base import MetricsDatabase
from services.metrics.store.counters import CounterWriter
from services.metrics.store.outbox import Outbox, outbox_document
from shared import topics


class DeadlineStore:
    """Finds cases due on the ``next_due`` index and flags them, with their counters and CaseOverdue outbox."""

    def __init__(self, database: MetricsDatabase, counters: CounterWriter, outbox: Outbox) -> None:
        self.database = database
        self.counters = counters
        self.outbox = outbox

    async def flag_overdue(self, now: datetime | None = None, limit: int = 200) -> int:
        """Flag open cases past a deadline (once per case and deadline), count them, queue their CaseOverdue."""
        now = now or datetime.now(UTC)
        db = self.database
        due = [doc["_id"] async for doc in db.cases.find({"next_due_at": {"$lt": now}}, {"_id": 1}).limit(limit)]
        if not due:
            return 0

        async def in_transaction(session: AsyncClientSession) -> int:
            flagged = 0
            stored = await db.find_by_ids(db.cases, due, session)
            changes = CounterChanges()
            for before in stored.values():
                case = before
                outbox = []
                for deadline in overdue_deadlines(case, now):
                    case, event = flag_overdue(case, deadline, now)
                    outbox.append(outbox_document(topics.CASES_OVERDUE, event))
                if not outbox:
                    # Met or flagged meanwhile: just move its next deadline on.
                    await db.cases.update_one(
                        {"_id": case["_id"]}, {"$set": {"next_due_at": next_due_at(case)}}, session=session
                    )
                    continue
                # Conditional: only the writer that still sees the flags unset sets them.
                condition: dict[str, Any] = {"_id": case["_id"]}
                for kind in case["overdue"]:
                    if kind not in (before.get("overdue") or {}):
                        condition[f"overdue.{kind}"] = {"$exists": False}
                updated = await db.cases.update_one(
                    condition,
                    {"$set": {"overdue": case["overdue"], "next_due_at": case["next_due_at"]}},
                    session=session,
                )
                if updated.modified_count != 1:
                    continue
                changes.add_case(before, case)
                for doc in outbox:
                    await self.outbox.put(doc, session)
                flagged += len(outbox)
            await self.counters.write_changes(changes, session)
            return flagged

        result: int = await db.transaction(in_transaction)
        return result
