"""Adapter: the metrics-owned ``cases`` collection, which intake only reads through its typed read model
(``shared.cases.CaseReadModel``: a case's status, lead queue and units, to judge a step; the stored
versions of submitted calls, to judge a resubmission). Connecting, finding one case, and looking up the
calls of many concurrent requests together (``StoredCallsLookup``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from services.common.mongo import hotline_database, mongo_client
from shared.cases import IDS_PER_QUERY, CaseDocument, CaseReadModel, StoredCall
from shared.settings import MongoSettings


class CaseStoreUnavailable(Exception):
    """The case store did not answer; ``kind`` names the driver's error (never the case's content)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@asynccontextmanager
async def connected_cases(mongodb: MongoSettings) -> AsyncIterator[CaseReadModel]:
    """The read model of ``mongodb``'s cases (a fail-fast client, for a request path), closed on the way out."""
    client = mongo_client(mongodb, fail_fast=True)
    try:
        yield CaseReadModel(hotline_database(client, mongodb))
    finally:
        await client.close()


async def find_case(cases: CaseReadModel | None, call_id: uuid.UUID) -> CaseDocument | None:
    """The case of ``call_id``, or None; CaseStoreUnavailable when the store did not answer."""
    try:
        if cases is None:
            raise ConnectionError("database not connected")
        return await cases.get(str(call_id))
    except Exception as exc:
        raise CaseStoreUnavailable(type(exc).__name__, str(exc)) from exc


class StoredCallsLookup:
    """``CaseReadModel.stored_calls`` for many concurrent requests: what they ask while a lookup is under way
    waits and goes into the next one, together (at most ``max_ids`` ids a round, its slices of
    ``IDS_PER_QUERY`` queried at once).

    Each ``POST /v1/calls`` must know whether its call was accepted before with other content (409), so it
    reads the cases by ``_id`` before it publishes. One query per request made the database round trip and
    the driver's per-operation work most of intake's CPU under 200 concurrent clients; gathered, it is one
    query per slice of ``IDS_PER_QUERY`` calls, and a lone request still goes at once. A failed lookup
    fails its round and every request that waited meanwhile (each then decides, as before, what to do
    without the check), so an unreachable store costs a request one server-selection timeout, not two.
    """

    def __init__(self, cases: CaseReadModel, *, max_ids: int = 500) -> None:
        self.cases = cases
        self.max_ids = max_ids
        self._waiting: deque[tuple[list[str], asyncio.Future[dict[str, StoredCall]]]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self.rounds = 0  # lookups made (each of one or more requests), for tests and the curious

    async def stored_calls(self, call_ids: Sequence[str]) -> dict[str, StoredCall]:
        """The stored requests of those of ``call_ids`` that have a case; the read model's errors propagate."""
        if not call_ids:
            return {}
        future: asyncio.Future[dict[str, StoredCall]] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(call_ids), future))
        worker = self._worker
        if worker is None or worker.done() or worker.get_loop() is not future.get_loop():  # (tests: a new loop)
            self._worker = asyncio.create_task(self._serve(), name="intake-stored-calls-lookup")
        return await future  # cancelled with its request: the round then leaves it out

    def _next_round(self) -> list[tuple[list[str], asyncio.Future[dict[str, StoredCall]]]]:
        taken: list[tuple[list[str], asyncio.Future[dict[str, StoredCall]]]] = []
        count = 0
        while self._waiting and (not taken or count + len(self._waiting[0][0]) <= self.max_ids):
            ids, future = self._waiting.popleft()
            if not future.done() and future.get_loop() is asyncio.get_running_loop():
                taken.append((ids, future))
                count += len(ids)
        return taken

    async def _lookup(self, call_ids: list[str]) -> dict[str, StoredCall]:
        """One round's lookup: its slices at once, so the round costs one round trip to the store, not one per
        slice (on a busy event loop each round trip waits for the loop's turn)."""
        slices = [call_ids[start : start + IDS_PER_QUERY] for start in range(0, len(call_ids), IDS_PER_QUERY)]
        found: dict[str, StoredCall] = {}
        for part in await asyncio.gather(*(self.cases.stored_calls(ids) for ids in slices)):
            found.update(part)
        return found

    async def _serve(self) -> None:
        taken: list[tuple[list[str], asyncio.Future[dict[str, StoredCall]]]] = []
        try:
            while taken := self._next_round():
                wanted = list(dict.fromkeys(call_id for ids, _ in taken for call_id in ids))
                self.rounds += 1
                try:
                    found = await self._lookup(wanted)
                except Exception as exc:  # the store just failed: so would the next round, at the same cost
                    for _, future in [*taken, *self._waiting]:
                        if not future.done():
                            future.set_exception(exc)
                    self._waiting.clear()
                    continue
                for ids, future in taken:
                    if not future.done():
                        future.set_result({call_id: found[call_id] for call_id in ids if call_id in found})
        finally:  # cancelled (shutdown): nobody is left waiting for an answer that will not come
            for _, future in [*taken, *self._waiting]:
                future.cancel()
            self._waiting.clear()
