"""The metrics agents: routed calls, case lifecycle steps and 每月一题 programme updates in, stored in MongoDB.

Thin on purpose: parse a batch (poison messages go to the dead-letter topic), hand the valid events
to the repository, and retry until the database took them, so an outage never acks unprocessed events.
Timers watch deadlines, retry events that came before their case, look for hot spots and publish the
outbox (CaseOverdue, HotSpotAlert) after the transaction that decided them committed. The composition
root (``services/metrics/app.py``) builds the faust app and the store holder and hands them to
``register_agents``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import faust

from services.common.mongo import LazyDatabase
from services.common.streaming import (
    BatchHandler,
    Batching,
    Received,
    consume_batches,
    dead_letter_of,
    dead_letter_sender,
    publish,
    raw_topic,
    retry_until_done,
)
from services.metrics.repository import MetricsRepository
from services.metrics.scoreboard import HotSpotThresholds
from services.metrics.settings import MetricsSettings
from shared import topics
from shared.events import CallRouted, CaseEvent, DeadLetter, ProgrammeItemUpdated, is_probe
from shared.programme import ProgrammeError, check_event, load_programme

log = logging.getLogger(__name__)

SERVICE = "metrics"


class RepositoryHolder:
    """Creates the Mongo client inside the worker's event loop on first use and ensures the indexes once."""

    def __init__(self, settings: MetricsSettings) -> None:
        self.settings = settings
        self._repository: MetricsRepository | None = None
        self._mongo = LazyDatabase(settings.mongodb)
        self._lock: asyncio.Lock | None = None

    async def ready(self) -> MetricsRepository:
        """The repository, with its indexes created (raises while the database is unreachable)."""
        if self._repository is not None:
            return self._repository
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._repository is None:
                repository = MetricsRepository(self._mongo.database, timezone=self.settings.timezone)
                await repository.ensure_indexes()
                self._repository = repository
                log.info("metrics store ready: database %s", self.settings.mongodb.database)
        return self._repository

    async def close(self) -> None:
        await self._mongo.close()
        self._repository = None


def rejected_letter(event: CaseEvent, reason: str) -> DeadLetter:
    """The dead letter of a case step the stored case refused (a race intake could not see)."""
    return dead_letter_of(SERVICE, event, f"illegal transition: {reason}")


def unfit_programme_letter(programme: Mapping[str, Any], event: ProgrammeItemUpdated) -> DeadLetter | None:
    """The dead letter of a programme update that names no item of the programme (or a wrong status); else None."""
    try:
        check_event(programme, event)
    except ProgrammeError as exc:
        return dead_letter_of(SERVICE, event, f"not in the programme: {exc}")
    return None


def split_programme_updates(
    programme: Mapping[str, Any], events: Sequence[ProgrammeItemUpdated]
) -> tuple[list[ProgrammeItemUpdated], list[DeadLetter]]:
    """The updates that fit the programme, and dead letters for those that do not."""
    fitting: list[ProgrammeItemUpdated] = []
    dead: list[DeadLetter] = []
    for event in events:
        letter = unfit_programme_letter(programme, event)
        if letter is None:
            fitting.append(event)
        else:
            dead.append(letter)
    return fitting, dead


def register_agents(app: faust.App, settings: MetricsSettings, *, store: RepositoryHolder) -> None:
    """Routed calls, case events and programme updates in batches into the metrics store (``store``), plus the
    timers: deadlines, events waiting for their case, hot spots and the outbox."""
    routed = raw_topic(app, topics.CALLS_ROUTED)
    case_events = raw_topic(app, topics.CASES_EVENTS)
    programme_events = raw_topic(app, topics.PROGRAMME_EVENTS)
    thresholds = HotSpotThresholds(
        min_count=settings.hotspot_min_count,
        ratio=settings.hotspot_ratio,
        baseline_days=settings.hotspot_baseline_days,
    )
    touched: set[tuple[str, str, str, str]] = set()

    send_dead = dead_letter_sender(app)
    batching = Batching(settings.batch_size, settings.batch_window_seconds)

    async def rejected_to_dead_letters(rejected: Sequence[tuple[CaseEvent, str]]) -> None:
        await send_dead([rejected_letter(event, reason) for event, reason in rejected])

    @app.task
    async def create_indexes_at_start() -> None:
        await retry_until_done("ensure metrics indexes", store.ready)

    @app.task
    async def backfill_word_blocks_at_start() -> None:
        # Beside the agents, not before them: a store from before the word blocks is read once, whole; until
        # its marker is written, a whole-store word search reads the cases as before.
        async def backfill() -> None:
            put = await (await store.ready()).backfill_word_blocks()
            if put:
                log.info("word blocks built for %d stored cases", put)

        await retry_until_done("backfill word blocks", backfill)

    async def apply_routed(batch: list[Received[CallRouted]]) -> list[DeadLetter]:
        stored = [item.value for item in batch if not is_probe(item.value.call)]  # probes are consumed, not kept
        if not stored:
            return []
        repository = await store.ready()
        result = await repository.apply_routed_detailed(stored)
        touched.update(result.touched_areas)
        log.info("stored %d routed events: %d new cases", len(batch), result.applied)
        return [rejected_letter(event, reason) for event, reason in result.rejected]

    async def apply_case_events(batch: list[Received[CaseEvent]]) -> list[DeadLetter]:
        repository = await store.ready()
        result = await repository.apply_case_events([item.value for item in batch])
        log.info(
            "case events: %d applied, %d duplicates, %d waiting for their case, %d rejected",
            result.applied,
            result.duplicates,
            result.pending,
            len(result.rejected),
        )
        return [rejected_letter(event, reason) for event, reason in result.rejected]

    async def apply_programme_updates(batch: list[Received[ProgrammeItemUpdated]]) -> list[DeadLetter]:
        repository = await store.ready()
        result = await repository.apply_programme_updates([item.value for item in batch])
        log.info("programme updates: %d applied, %d duplicates", result.applied, result.duplicates)
        return []

    def unfit_for_programme(event: ProgrammeItemUpdated) -> DeadLetter | None:
        return unfit_programme_letter(load_programme(settings.programme_path), event)

    # Each retried until the database took the batch: an outage never acks unprocessed events.
    routed_handler = BatchHandler(SERVICE, CallRouted, apply_routed, send_dead, retry="apply routed batch")
    case_events_handler = BatchHandler(SERVICE, CaseEvent, apply_case_events, send_dead, retry="apply case events")
    programme_handler = BatchHandler(
        SERVICE,
        ProgrammeItemUpdated,
        apply_programme_updates,
        send_dead,
        refuse=unfit_for_programme,
        retry="apply programme updates",
    )

    @app.agent(routed, name="metrics-store-routed")
    async def store_routed(stream: faust.StreamT) -> None:
        await consume_batches(stream, batching, routed_handler)

    @app.agent(case_events, name="metrics-store-case-events")
    async def store_case_events(stream: faust.StreamT) -> None:
        await consume_batches(stream, batching, case_events_handler)

    @app.agent(programme_events, name="metrics-store-programme-events")
    async def store_programme_events(stream: faust.StreamT) -> None:
        await consume_batches(stream, batching, programme_handler)

    @app.timer(settings.deadline_check_seconds)
    async def watch_deadlines() -> None:
        try:
            repository = await store.ready()
            flagged = await repository.flag_overdue()
            if flagged:
                log.info("flagged %d overdue deadlines", flagged)
            await publish_outbox(repository)
        except Exception as exc:  # the next tick tries again
            log.warning("deadline watcher: %s: %s", type(exc).__name__, exc)

    @app.timer(settings.pending_retry_seconds)
    async def retry_waiting_events() -> None:
        try:
            repository = await store.ready()
            result = await repository.retry_pending()
            await rejected_to_dead_letters(result.rejected)
        except Exception as exc:
            log.warning("pending retry: %s: %s", type(exc).__name__, exc)

    @app.timer(settings.hotspot_check_seconds)
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
        by_topic: dict[str, list[tuple[bytes | None, bytes]]] = {}
        for message in messages:  # in the outbox's order within each topic
            by_topic.setdefault(message["topic"], []).append((message["key"].encode(), message["value"].encode()))
        await asyncio.gather(*(publish(app, topic, sent) for topic, sent in by_topic.items()))
        await repository.mark_published([m["_id"] for m in messages])
