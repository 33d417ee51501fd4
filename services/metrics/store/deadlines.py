"""The deadline watcher's store side: flag open cases past a deadline, once per case and deadline."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.aggregates import CounterChanges
from services.metrics.case_facts import flag_overdue, next_due_at, overdue_deadlines
from services.metrics.store.base import MetricsDatabase
from services.metrics.store.counters import CounterWriter
from services.metrics.store.outbox import Outbox, outbox_document
from shared import topics

# Before every date in the index's order: a lower bound keeps the scan off the entries of cases without a
# deadline (stores written before ``next_due_at`` was removed rather than set to null still hold nulls).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def due_by(now: datetime) -> dict[str, Any]:
    """The filter of cases with a deadline before ``now``: a range on the ``next_due`` index.

    ``{$lt: now}`` alone walks every null entry of the index on the embedded database (778 ms at 40,000
    closed cases); with the lower bound it walks only the entries that are due (measured: 20,000 cases of
    which 100 due, 530-970 ms without, 7-15 ms with).
    """
    return {"next_due_at": {"$gte": EPOCH, "$lt": now}}


def next_due_update(case: Mapping[str, Any]) -> dict[str, Any]:
    """The update that stores the case's next deadline: ``$set`` it, or ``$unset`` it when none is left."""
    due = next_due_at(case)
    if due is None:
        return {"$unset": {"next_due_at": ""}}
    return {"$set": {"next_due_at": due}}


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
        due = [doc["_id"] async for doc in db.cases.find(due_by(now), {"_id": 1}).limit(limit)]
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
                    await db.cases.update_one({"_id": case["_id"]}, next_due_update(case), session=session)
                    continue
                # Conditional: only the writer that still sees the flags unset sets them.
                condition: dict[str, Any] = {"_id": case["_id"]}
                for kind in case["overdue"]:
                    if kind not in (before.get("overdue") or {}):
                        condition[f"overdue.{kind}"] = {"$exists": False}
                update = next_due_update(case)
                update.setdefault("$set", {})["overdue"] = case["overdue"]
                updated = await db.cases.update_one(condition, update, session=session)
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
