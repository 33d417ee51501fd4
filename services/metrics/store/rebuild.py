"""``hotline metrics rebuild``: every counter recomputed from the stored cases, compared or written back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.metrics.aggregates import QUEUE_COUNTER_PREFIX, counter_meta, id_meta, sum_contributions
from services.metrics.case_facts import OPEN_STATUSES
from services.metrics.store.base import MetricsDatabase
from shared.clock import as_utc


class CounterRebuild:
    """Recomputes ``counters`` from ``cases`` (the stored facts), to check or to replace them."""

    def __init__(self, database: MetricsDatabase) -> None:
        self.database = database

    async def case_count(self) -> int:
        """How many cases are stored."""
        return await self.database.cases.count_documents({})

    async def computed_counters(self) -> dict[str, dict[str, Any]]:
        """Every counter as ``hotline metrics rebuild`` computes it from the stored cases (normalised)."""
        cases = await self._cases()
        totals: dict[str, dict[str, Any]] = {cid: dict(f) for cid, f in sum_contributions(cases).items()}
        for queue_id, (_received_at, call_id) in _oldest_open(cases).items():
            totals.setdefault(f"{QUEUE_COUNTER_PREFIX}{queue_id}", {})["oldest_open"] = call_id
        return totals

    async def stored_counters(self) -> dict[str, dict[str, Any]]:
        """Every stored counter, normalised like ``computed_counters`` (numbers not zero, oldest case id)."""
        snapshot: dict[str, dict[str, Any]] = {}
        async for doc in self.database.counters.find({}):
            fields: dict[str, Any] = {k: v for k, v in _flat_numbers(doc).items() if v != 0}
            if doc["_id"].startswith(QUEUE_COUNTER_PREFIX) and doc.get("oldest_open") and fields.get("open"):
                fields["oldest_open"] = doc["oldest_open"]["call_id"]
            if fields:
                snapshot[doc["_id"]] = fields
        return snapshot

    async def rebuild(self) -> int:
        """Replace every counter with the one recomputed from the stored cases; the number of counters written."""
        cases = await self._cases()
        totals = sum_contributions(cases)
        meta: dict[str, dict[str, Any]] = {}
        for case in cases:
            meta.update(counter_meta(case))
        oldest = _oldest_open(cases)
        documents = []
        for counter_id, fields in totals.items():
            document: dict[str, Any] = {"_id": counter_id, **(meta.get(counter_id) or id_meta(counter_id))}
            for path, amount in fields.items():
                _set_path(document, path, amount)
            if counter_id.startswith(QUEUE_COUNTER_PREFIX):
                found = oldest.get(counter_id[len(QUEUE_COUNTER_PREFIX) :])
                if found:
                    document["oldest_open"] = {"received_at": found[0], "call_id": found[1]}
            documents.append(document)
        counters = self.database.counters
        async with self.database.write_lock:
            await counters.delete_many({})
            for start in range(0, len(documents), 1000):
                await counters.insert_many(documents[start : start + 1000], ordered=False)
        return len(documents)

    async def _cases(self) -> list[dict[str, Any]]:
        return [case async for case in self.database.cases.find({}, {"call.body": 0, "call.subject": 0})]


def _oldest_open(cases: list[dict[str, Any]]) -> dict[str, tuple[datetime, str]]:
    """Each queue's open case received first (ties by call id)."""
    oldest: dict[str, tuple[datetime, str]] = {}
    for case in cases:
        if case["status"] in OPEN_STATUSES:
            waiting = (as_utc(case["received_at"]), case["_id"])
            oldest[case["queue_id"]] = min(oldest.get(case["queue_id"], waiting), waiting)
    return oldest


def _flat_numbers(document: dict[str, Any], prefix: str = "") -> dict[str, int]:
    """The integer fields of a document, nested ones as dotted paths (``units.<id>.count``)."""
    flat: dict[str, int] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat.update(_flat_numbers(value, f"{prefix}{key}."))
        elif isinstance(value, int) and not isinstance(value, bool):
            flat[f"{prefix}{key}"] = int(value)
    return flat


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path in a nested document."""
    *parents, last = path.split(".")
    for part in parents:
        document = document.setdefault(part, {})
    document[last] = value
