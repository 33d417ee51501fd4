"""The metrics agents: routed calls, case lifecycle steps and 每月一题 programme updates in, stored in MongoDB.

Thin on purpose: parse a batch (poison messages go to the dead-letter topic), hand the valid events
to the repository, and retry until the database took them, so an outage never acks unprocessed events.
Timers watch deadlines, retry events that came before their case, look for hot spots and publish the
outbox (CaseOverdue, HotSpotAlert) after the transaction that decided them committed.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import faust
from pymongo import AsyncMongoClient

from services.common.streaming import create_app, parse_events, raw_topic, retry_until_done, send_dead_letters
from services.metrics.repository import EventsResult, MetricsRepository, ProgrammeResult
from services.metrics.scoreboard import HotSpotThresholds
from services.metrics.settings import ScoreboardSettings
from shared import topics
from shared.events import CallRouted, CaseEvent, DeadLetter, ProgrammeItemUpdated
from shared.programme import ProgrammeError, check_event, load_programme
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


def rejected_letter(event: CaseEvent, reason: str) -> DeadLetter:
    """The dead letter of a case step the stored case refused (a race intake could not see)."""
    return DeadLetter(
        service=SERVICE,
        source_topic=topics.CASES_EVENTS,
        key=str(event.call_id),
        reason=f"illegal transition: {reason}"[:2000],
        original_b64=base64.b64encode(event.to_bytes()).decode(),
    )


def unfit_programme_letter(event: ProgrammeItemUpdated, reason: str) -> DeadLetter:
    """The dead letter of a programme update that names no item of the programme (or a wrong status)."""
    return DeadLetter(
        service=SERVICE,
        source_topic=topics.PROGRAMME_EVENTS,
        key=event.problem_id,
        reason=f"not in the programme: {reason}"[:2000],
        original_b64=base64.b64encode(event.to_bytes()).decode(),
    )


def split_programme_updates(
    programme: Mapping[str, Any], events: Sequence[ProgrammeItemUpdated]
) -> tuple[list[ProgrammeItemUpdated], list[DeadLetter]]:
    """The updates that fit the programme, and dead letters for those that do not."""
    fitting: list[ProgrammeItemUpdated] = []
    dead: list[DeadLetter] = []
    for event in events:
        try:
            check_event(programme, event)
        except ProgrammeError as exc:
            dead.append(unfit_programme_letter(event, str(exc)))
        else:
            fitting.append(event)
    return fitting, dead


def build_app(settings: Settings, scoreboard: ScoreboardSettings | None = None) -> faust.App:
    """The metrics worker: routed calls and case events in batches into the metrics store, plus its timers."""
    scoreboard = scoreboard or ScoreboardSettings()
    app = create_app(SERVICE, settings)
    routed = raw_topic(app, topics.CALLS_ROUTED)
    case_events = raw_topic(app, topics.CASES_EVENTS)
    programme_events = raw_topic(app, topics.PROGRAMME_EVENTS)
    store = RepositoryHolder(settings)
    thresholds = HotSpotThresholds(
        min_count=scoreboard.hotspot_min_count,
        ratio=scoreboard.hotspot_ratio,
        baseline_days=scoreboard.hotspot_baseline_days,
    )
    touched: set[tuple[str, str, str, str]] = set()

    async def rejected_to_dead_letters(rejected: Sequence[tuple[CaseEvent, str]]) -> None:
        await send_dead_letters(app, [rejected_letter(event, reason) for event, reason in rejected])

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

                async def apply(batch: list[CallRouted] = batch) -> EventsResult:
                    repository = await store.ready()
                    return await repository.apply_routed_detailed(batch)

                result = await retry_until_done("apply routed batch", apply)
                touched.update(result.touched_areas)
                await rejected_to_dead_letters(result.rejected)
                log.info("stored %d routed events: %d new cases", len(batch), result.applied)

    @app.agent(case_events, name="metrics-store-case-events")
    async def store_case_events(stream: faust.StreamT) -> None:
        async for events in cast(faust.Stream, stream).take_events(
            settings.metrics.batch_size, within=settings.metrics.batch_window_seconds
        ):
            batch, dead = parse_events(events, CaseEvent, SERVICE)
            await send_dead_letters(app, dead)
            if batch:

                async def apply(batch: list[CaseEvent] = batch) -> EventsResult:
                    repository = await store.ready()
                    return await repository.apply_case_events(batch)

                result = await retry_until_done("apply case events", apply)
                await rejected_to_dead_letters(result.rejected)
                log.info(
                    "case events: %d applied, %d duplicates, %d waiting for their case, %d rejected",
                    result.applied,
                    result.duplicates,
                    result.pending,
                    len(result.rejected),
                )

    @app.agent(programme_events, name="metrics-store-programme-events")
    async def store_programme_events(stream: faust.StreamT) -> None:
        async for events in cast(faust.Stream, stream).take_events(
            settings.metrics.batch_size, within=settings.metrics.batch_window_seconds
        ):
            parsed, dead = parse_events(events, ProgrammeItemUpdated, SERVICE)
            batch, unfit = split_programme_updates(load_programme(scoreboard.programme_path), parsed)
            await send_dead_letters(app, [*dead, *unfit])
            if batch:

                async def apply(batch: list[ProgrammeItemUpdated] = batch) -> ProgrammeResult:
                    repository = await store.ready()
                    return await repository.apply_programme_updates(batch)

                result = await retry_until_done("apply programme updates", apply)
                log.info("programme updates: %d applied, %d duplicates", result.applied, result.duplicates)

    @app.timer(scoreboard.deadline_check_seconds)
    async def watch_deadlines() -> None:
        try:
            repository = await store.ready()
            flagged = await repository.flag_overdue()
            if flagged:
                log.info("flagged %d overdue deadlines", flagged)
            await publish_outbox(repository)
        except Exception as exc:  # the next tick tries again
            log.warning("deadline watcher: %s: %s", type(exc).__name__, exc)

    @app.timer(scoreboard.pending_retry_seconds)
    async def retry_waiting_events() -> None:
        try:
            repository = await store.ready()
            result = await repository.retry_pending()
            await rejected_to_dead_letters(result.rejected)
        except Exception as exc:
            log.warning("pending retry: %s: %s", type(exc).__name__, exc)

    @app.timer(scoreboard.hotspot_check_seconds)
    async def look_for_hot_spots() -> None:
        if not touched:
            return
        keys = set(touched)
        touched.difference_update(keys)
        try:
            repository = await store.ready()
            found = await repository.detect_hotspots(keys, thresholds)
            if found:
                log.info("%d new hot spots", found)
                await publish_outbox(repository)
        except Exception as exc:
            touched.update(keys)
            log.warning("hot-spot check: %s: %s", type(exc).__name__, exc)

    async def publish_outbox(repository: MetricsRepository) -> None:
        messages = await repository.outbox_messages()
        if not messages:
            return
        futures = []
        for message in messages:
            topic = raw_topic(app, message["topic"])
            futures.append(await topic.send(key=message["key"].encode(), value=message["value"].encode()))
        await asyncio.gather(*futures)
        await repository.mark_published([m["_id"] for m in messages])

    return app
