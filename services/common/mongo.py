"""The one place a Hotline service connects to MongoDB (PyMongo's native async client; never Motor).

Every client is made here from ``MongoSettings`` with the same options: ``tz_aware=True``, so datetimes
come back as aware UTC values, and, for a reader on a request path (intake answering HTTP, the router
routing a batch), ``fail_fast``: give up selecting a server after 3 s instead of PyMongo's 30 s, so a
database outage becomes a quick error the caller handles rather than a hung request or batch.

A client belongs to the event loop it was first used on: a faust worker creates it lazily, inside the
worker's loop (``LazyDatabase``), not when the app is built.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import MongoSettings

FAIL_FAST_SELECTION_MS = 3000
"""How long a fail-fast reader waits for a server before the operation fails (PyMongo's default: 30 s)."""

Document = dict[str, Any]


def mongo_client(settings: MongoSettings, *, fail_fast: bool = False) -> AsyncMongoClient[Document]:
    """A client for ``settings.uri``: aware datetimes; with ``fail_fast``, a 3 s server-selection timeout."""
    if fail_fast:
        return AsyncMongoClient(settings.uri, serverSelectionTimeoutMS=FAIL_FAST_SELECTION_MS, tz_aware=True)
    return AsyncMongoClient(settings.uri, tz_aware=True)


def hotline_database(client: AsyncMongoClient[Document], settings: MongoSettings) -> AsyncDatabase[Document]:
    """The Hotline database (``settings.database``) on ``client``."""
    return client[settings.database]


class LazyDatabase:
    """The Hotline database, its client created on first use (inside the event loop that uses it)."""

    def __init__(self, settings: MongoSettings, *, fail_fast: bool = False) -> None:
        self.settings = settings
        self.fail_fast = fail_fast
        self._client: AsyncMongoClient[Document] | None = None

    @property
    def database(self) -> AsyncDatabase[Document]:
        if self._client is None:
            self._client = mongo_client(self.settings, fail_fast=self.fail_fast)
        return hotline_database(self._client, self.settings)

    async def close(self) -> None:
        """Close the client, if one was made; the next use makes a new one."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
