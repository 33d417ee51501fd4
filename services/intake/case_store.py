"""Adapter: the metrics-owned ``cases`` collection in MongoDB, which intake only reads (a case's status,
lead queue and units, to judge a step). Connecting, answering a ping, finding one case.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient

from shared.settings import MongoSettings

CASES = "cases"


class CaseStoreUnavailable(Exception):
    """The case store did not answer; ``kind`` names the driver's error (never the case's content)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@asynccontextmanager
async def connected_cases(mongodb: MongoSettings) -> AsyncIterator[Any]:
    """The ``cases`` collection of ``mongodb``, with its client closed on the way out."""
    client: AsyncMongoClient = AsyncMongoClient(mongodb.uri, serverSelectionTimeoutMS=3000, tz_aware=True)
    try:
        yield client[mongodb.database][CASES]
    finally:
        await client.close()


async def database_problem(cases: Any) -> str | None:
    """None when the case store answers a ping, else why not."""
    if cases is None:
        return "database not connected"
    try:
        await cases.database.command("ping")
    except Exception as exc:
        return f"database: {type(exc).__name__}: {exc}"
    return None


async def find_case(cases: Any, call_id: uuid.UUID) -> dict[str, Any] | None:
    """The case document of ``call_id``, or None; CaseStoreUnavailable when the store did not answer."""
    try:
        case: dict[str, Any] | None = await cases.find_one({"_id": str(call_id)})
    except Exception as exc:
        raise CaseStoreUnavailable(type(exc).__name__, str(exc)) from exc
    return case
