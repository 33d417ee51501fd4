"""The metrics agent: routed calls in, cases and monthly counters stored in MongoDB.

Thin on purpose: parse a batch (poison messages go to the dead-letter topic), hand the valid events
to the repository, and retry until the database took them, so an outage never acks unprocessed events.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import faust
from pymongo import AsyncMongoClient

from services.common.streaming import create_app, parse_events, raw_topic, retry_until_done, send_dead_letters
from services.metrics.repository import MetricsRepository
from shared import topics
from shared.events import CallRouted
from shared.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "metrics"


class RepositoryHolder:
    """Creates the Mongo client inside the worker's event loop on first use and ensures the indexes once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._repository: MetricsRepository | None = None
        self._client: AsyncMongoClient | None = None
        self._lock: asyncio.Lock | None = None

    async def ready(self) -> MetricsRepository:
        """The repository, with its indexes created (raises while the database is unreachable)."""
        if self._repository is not None:
            return self._repository
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._repository is None:
                if self._client is None:
                    self._client = AsyncMongoClient(self.settings.mongodb.uri, tz_aware=True)
                repository = MetricsRepository(
                    self._client[self.settings.mongodb.database], timezone=self.settings.timezone
                )
                await repository.ensure_indexes()
                self._repository = repository
                log.info("metrics store ready: database %s", self.settings.mongodb.database)
        return self._repository

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = self._repository = None


def build_app(settings: Settings) -> faust.App:
    """The metrics worker: consume hotline.calls.routed.v1 in batches into the metrics store."""
    app = create_app(SERVICE, settings)
    routed = raw_topic(app, topics.CALLS_ROUTED)
    store = RepositoryHolder(settings)

    @app.task
    async def create_indexes_at_start() -> None:
        await retry_until_done("ensure metrics indexes", store.ready)

    @app.agent(routed, name="metrics-store-routed")
    async def store_routed(stream: faust.StreamT) -> None:
        # take_events is on the concrete Stream, not on the StreamT interface faust types agents with.
        async for events in cast(faust.Stream, stream).take_events(
            settings.metrics.batch_size, within=settings.metrics.batch_window_seconds
        ):
            batch, dead = parse_events(events, CallRouted, SERVICE)
            await send_dead_letters(app, dead)
            if batch:

                async def apply(batch: list[CallRouted] = batch) -> int:
                    repository = await store.ready()
                    return await repository.apply_routed(batch)

                new = await retry_until_done("apply routed batch", apply)
                log.info("stored %d routed events: %d new cases", len(batch), new)

    return app
