"""Counter writes: a batch's pre-aggregated changes (``aggregates.CounterChanges``) in one bulk write.

Also keeps each queue counter's ``oldest_open`` case (the queue page's oldest waiting case) right when
the oldest one leaves the queue, and the queues' open-case digests (``open_cases.py``) that searches read, and the word blocks (``word_blocks.py``).
"""

from __future__ import annotations

from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.aggregates import QUEUE_COUNTER_PREFIX, CounterChanges, id_meta
from services.metrics.store.base import MetricsDatabase
from services.metrics.store.open_cases import digest_updates, emptied_digests
from services.metrics.store.word_blocks import block_updates


class CounterWriter:
    """Writes the ``counters`` collection inside the transaction that wrote the cases."""

    def __init__(self, database: MetricsDatabase) -> None:
        self.database = database

    async def write_changes(self, changes: CounterChanges, session: AsyncClientSession) -> None:
        """All counter changes of a batch in one bulk write (after the cases were written in the same transaction)."""
        updates = []
        for counter_id, amounts in changes.nonzero().items():
            meta = changes.meta.get(counter_id) or id_meta(counter_id)
            updates.append(UpdateOne({"_id": counter_id}, {"$inc": amounts, "$set": meta}, upsert=True))
        looked_up, oldest_updates = await self._oldest_updates(changes, session)
        for queue_id, (received_at, call_id) in changes.queues_gained.items():
            if queue_id in looked_up:
                continue  # the lookup read the queue's open cases after this batch's were written
            updates.append(
                UpdateOne(
                    {"_id": f"{QUEUE_COUNTER_PREFIX}{queue_id}"},
                    # Documents compare field by field: the earliest received_at wins, ties by call id.
                    {"$min": {"oldest_open": {"received_at": received_at, "call_id": call_id}}},
                    upsert=True,
                )
            )
        updates += oldest_updates
        if updates:
            # Each operation touches other fields of a counter than the others, so their order does not matter.
            await self.database.counters.bulk_write(updates, ordered=False, session=session)
        digests = digest_updates(changes.open_cases)
        if digests:  # the queues' open-case digests, in the same transaction as the cases they describe
            await self.database.open_cases.bulk_write(digests, ordered=False, session=session)
        emptied = emptied_digests(changes.open_cases)
        if emptied:  # a digest no case waits in any more is deleted, so a queue's read stays bounded by its open cases
            await self.database.open_cases.delete_many({"_id": {"$in": emptied}, "cases": {}}, session=session)
        blocks = block_updates(changes.word_blocks)
        if blocks:  # the whole store's word blocks: one upsert per hour the batch touched
            await self.database.word_blocks.bulk_write(blocks, ordered=False, session=session)

    async def _oldest_updates(
        self, changes: CounterChanges, session: AsyncClientSession
    ) -> tuple[set[str], list[UpdateOne]]:
        """The queues whose oldest waiting case left, with the new one looked up (on the index, seeing this batch's
        cases), and their counters' updates.

        Only those: a queue that lost other cases keeps its oldest, and the earlier of it and the batch's oldest
        gained case is set by ``$min`` like any gain. Looking up every queue that both gained and lost in a batch
        read all its open cases each time (every batch of a busy queue, whose new calls arrive as others close or
        link), a cost that grew with the queue's open cases."""
        if not changes.queues_left:
            return set(), []
        counter_ids = [f"{QUEUE_COUNTER_PREFIX}{queue_id}" for queue_id in changes.queues_left]
        current = await self.database.find_by_ids(self.database.counters, counter_ids, session, {"oldest_open": 1})
        looked_up: set[str] = set()
        updates = []
        for queue_id, left in changes.queues_left.items():
            counter = current.get(f"{QUEUE_COUNTER_PREFIX}{queue_id}") or {}
            oldest_id = (counter.get("oldest_open") or {}).get("call_id")
            if oldest_id is not None and oldest_id not in left:
                continue  # its oldest waiting case is still waiting
            looked_up.add(queue_id)
            oldest = await self.oldest_waiting(queue_id, session=session)
            value = {"received_at": oldest["received_at"], "call_id": oldest["_id"]} if oldest else None
            updates.append(
                UpdateOne(
                    {"_id": f"{QUEUE_COUNTER_PREFIX}{queue_id}"},
                    {"$set": {"oldest_open": value}} if value else {"$unset": {"oldest_open": ""}},
                )
            )
        return looked_up, updates

    async def oldest_waiting(self, queue_id: str, session: AsyncClientSession | None = None) -> dict[str, Any] | None:
        """The open case led by ``queue_id`` received first: its open cases read per status on the index
        (queue_ids, status, received_at), the lead checked here.

        Bounded by the queue's open cases, not by all it ever had (``MetricsDatabase.open_cases_of``, which says
        why the lead is checked here and not in the query); a sort's limit would be applied only after every match
        is read, so reading the matches costs the same."""
        projection = {"_id": 1, "received_at": 1, "queue_id": 1}
        found = [
            doc
            for doc in await self.database.open_cases_of(queue_id, projection=projection, session=session)
            if doc.get("queue_id") == queue_id
        ]
        oldest = min(found, key=lambda doc: (doc["received_at"], doc["_id"]), default=None)
        return {"_id": oldest["_id"], "received_at": oldest["received_at"]} if oldest else None
