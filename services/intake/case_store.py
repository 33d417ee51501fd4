"""Adapter: the metrics-owned ``cases`` collection, which intake only reads through its typed read model
(``shared.cases.CaseReadModel``: a case's status, lead queue and units, to judge a step). Connecting,
finding one case.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.common.mongo import hotline_database, mongo_client
from shared.cases import CaseDocument, CaseReadModel
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
