"""The router's faust adapter: classified calls in, routed calls out; returned, reclassified and unlinked cases
re-dispatched (thin: parse, ask the store, decide with pure code, send).

The composition root (``app.py``) builds the faust app, the catalogue watcher, the gazetteer and the
read model of the stored cases (``shared.cases.CaseReadModel``) and hands them to ``register_agents``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import faust
from faust.types import EventT

from services.common.logs import call_fields
from services.common.streaming import (
    BatchHandler,
    Batching,
    InvalidMessages,
    Received,
    consume_batches,
    dead_letter_for,
    dead_letter_of,
    dead_letter_sender,
    is_transient,
    parse_batch,
    publish,
    raw_topic,
    retry_until_done,
)
from services.router.cases import REROUTING_KINDS, dispatched_event, redispatch_after_return, reroute
from services.router.duplicates import (
    DUPLICATE_PROJECTION,
    OpenCase,
    OpenCaseIndex,
    as_open_case,
    duplicate_queries,
    find_duplicate,
    linked_assignment,
    linked_event,
)
from services.router.lead import LeadScorer, load_scorers
from services.router.routing import locate_call, route
from services.router.settings import RouterSettings
from services.router.urgency import NO_JUDGEMENT, UrgencyScorer
from shared import topics
from shared.cases import CaseDocument, CaseReadModel
from shared.catalogue import Catalogue
from shared.catalogue_watch import CatalogueWatcher
from shared.clock import DEFAULT_TIMEZONE
from shared.events import Assignment, CallClassified, CallRouted, CaseEvent, CaseEventKind, DeadLetter, utc_now
from shared.gazetteer import Gazetteer, Resolution

SERVICE = "router"

log = logging.getLogger(__name__)

Parsed = list[tuple[EventT, CallClassified, Resolution]]


def locate_received(
    received: Sequence[Received[CallClassified]], gazetteer: Gazetteer
) -> tuple[Parsed, list[DeadLetter]]:
    """Where each classified call is, and dead letters for the calls that could not be located."""
    parsed: Parsed = []
    dead: list[DeadLetter] = []
    for item in received:
        try:
            parsed.append((item.record, item.value, locate_call(item.value.call, gazetteer)))
        except Exception as exc:  # a bug on one call must not stop the stream: keep it with the reason
            log.exception(
                "locating call %s failed",
                item.value.call_id,
                extra=call_fields(item.value.call_id, item.value.event_id),
            )
            dead.append(dead_letter_for(SERVICE, item.record, f"routing failed: {type(exc).__name__}: {exc}"))
    return parsed, dead


def parse_classified(events: Sequence[EventT], gazetteer: Gazetteer) -> tuple[Parsed, list[DeadLetter]]:
    """The batch's classified calls with where each is, and dead letters for what could not be parsed."""
    received, dead = parse_batch(events, CallClassified, SERVICE)
    parsed, unlocated = locate_received(received, gazetteer)
    return parsed, dead + unlocated


def route_parsed(
    parsed: Parsed,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    now: datetime,
    *,
    open_cases: Sequence[OpenCase] = (),
    duplicate_window: timedelta = timedelta(0),
    timezone: str = DEFAULT_TIMEZONE,
    scorer: UrgencyScorer | None = None,
    lead: LeadScorer | None = None,
) -> tuple[list[CallRouted], list[DeadLetter]]:
    """Route each call; a duplicate of an open case (stored, or earlier in this batch) is linked to it.
    ``scorer``: the learned urgency scorer, whose flags make urgent the calls no life-or-safety rule took;
    ``lead``: the learned lead scorer, whose votes may lead a call with another unit than its rule's."""
    routed: list[CallRouted] = []
    dead: list[DeadLetter] = []
    known = OpenCaseIndex(open_cases)
    calls = [classified.call for _, classified, _ in parsed]
    judgements = scorer.judge(calls) if scorer else [NO_JUDGEMENT] * len(parsed)
    votes = lead.votes(calls) if lead else [None] * len(parsed)
    for (event, classified, place), judgement, vote in zip(parsed, judgements, votes, strict=True):
        try:
            assignment = route(
                classified.call,
                classified.classification,
                catalogue,
                gazetteer,
                now,
                timezone=timezone,
                place=place,
                learned_urgency=judgement.flag,
                learned_calm=judgement.calm,
                learned_lead=vote,
            )
            duplicate = (
                find_duplicate(classified, place, known.candidates(classified), window=duplicate_window)
                if duplicate_window
                else None
            )
            if duplicate is not None:
                assignment = linked_assignment(assignment, duplicate, catalogue)
            elif duplicate_window:
                opened = as_open_case(classified, place, assignment)
                if opened is not None:
                    known.add(opened)
        except Exception as exc:
            log.exception(
                "routing call %s failed", classified.call_id, extra=call_fields(classified.call_id, classified.event_id)
            )
            dead.append(dead_letter_for(SERVICE, event, f"routing failed: {type(exc).__name__}: {exc}"))
            continue
        routed.append(CallRouted.from_classified(classified, assignment))
    return routed, dead


def route_events(
    events: list[EventT], catalogue: Catalogue, gazetteer: Gazetteer
) -> tuple[list[CallRouted], list[DeadLetter]]:
    """Routed events of a batch (no duplicate check), and dead letters for what could not be parsed or routed."""
    parsed, dead = parse_classified(events, gazetteer)
    routed, failed = route_parsed(parsed, catalogue, gazetteer, utc_now())
    return routed, dead + failed


def decide_case_event(
    event: CaseEvent,
    case: CaseDocument,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    now: datetime,
    router: RouterSettings,
    timezone: str = DEFAULT_TIMEZONE,
    scorer: UrgencyScorer | None = None,
    lead: LeadScorer | None = None,
) -> Assignment:
    """The new dispatch of a case after a return, a reclassification or an undone link (a return keeps the
    case's urgency; a fresh routing asks the learned urgency ``scorer`` and ``lead`` scorer again, as the first
    routing did)."""
    if event.kind is CaseEventKind.returned:
        return redispatch_after_return(
            case, catalogue, gazetteer, now, max_returns=router.max_returns, note=event.note, timezone=timezone
        )
    if event.kind is CaseEventKind.reclassified:
        category = event.classification.category if event.classification else "?"
        return reroute(
            case,
            catalogue,
            gazetteer,
            now,
            classification=event.classification,
            why=f"reclassified as {category} by {event.actor}",
            timezone=timezone,
            scorer=scorer,
            lead=lead,
        )
    why = f"duplicate link undone by {event.actor}"
    return reroute(case, catalogue, gazetteer, now, why=why, timezone=timezone, scorer=scorer, lead=lead)


def register_agents(
    app: faust.App,
    settings: RouterSettings,
    *,
    watcher: CatalogueWatcher,
    gazetteer: Gazetteer,
    cases: Callable[[], CaseReadModel],
) -> None:
    """hotline.calls.classified.v1 and hotline.cases.events.v1 in (batches of ``settings.batch_size``),
    routed calls and the router's case steps (dispatched, linked) out; ``cases()`` reads the stored cases
    (``shared.cases.CaseReadModel``: the metrics-owned collection, a documented coupling)."""
    window = timedelta(hours=settings.duplicate_window_hours)
    scorer, lead = load_scorers(settings)
    classified_topic = raw_topic(app, topics.CALLS_CLASSIFIED)
    events_topic = raw_topic(app, topics.CASES_EVENTS)

    async def send(topic: str, items: Sequence[CallRouted | CaseEvent]) -> None:
        await publish(app, topic, [(item.key(), item.to_bytes()) for item in items])

    async def open_cases_for(parsed: Parsed) -> list[OpenCase]:
        """Open cases the batch's calls may duplicate (a few indexed queries); none when the store fails."""
        queries = duplicate_queries([(c, p) for _, c, p in parsed], window) if settings.duplicate_window_hours else []
        try:
            stored = await cases().find_projected(queries, DUPLICATE_PROJECTION)
        except Exception as exc:  # routing must go on without the store: a missed link is better than no dispatch
            log.warning("duplicate check skipped for %d calls: %s: %s", len(parsed), type(exc).__name__, exc)
            return []
        return [case for case in map(OpenCase.from_document, stored) if case is not None]

    @app.timer(settings.catalogue_check_seconds)
    async def watch_catalogue() -> None:
        watcher.refresh()

    send_dead = dead_letter_sender(app)
    batching = Batching(settings.batch_size, settings.batch_window_seconds)

    async def route_and_send(received: list[Received[CallClassified]]) -> list[DeadLetter]:
        # Locating and deciding are CPU work (~0.2 ms a call, a batch of 500 ~100 ms): off the event loop, as the
        # classifier's model, so the worker's timers, commits and /readyz are not held up behind a batch.
        parsed, unlocated = await asyncio.to_thread(locate_received, received, gazetteer)
        open_cases = await open_cases_for(parsed)
        routed, failed = await asyncio.to_thread(
            route_parsed,
            parsed,
            watcher.current(),
            gazetteer,
            utc_now(),
            open_cases=open_cases,
            duplicate_window=window,
            timezone=settings.timezone,
            scorer=scorer,
            lead=lead,
        )
        linked = [e for e in map(linked_event, routed) if e is not None]
        # Acked only once the broker has every event; a resend after a failure is harmless because
        # derived event ids are deterministic and consumers are idempotent. Routed before linked, so
        # the duplicate's case can exist before its link.
        await retry_until_done(
            "send routed batch", functools.partial(send, topics.CALLS_ROUTED, routed), retry_if=is_transient
        )
        await retry_until_done(
            "send linked steps", functools.partial(send, topics.CASES_EVENTS, linked), retry_if=is_transient
        )
        if routed:
            log.debug("routed %d calls (%d linked), %d dead letters", len(routed), len(linked), len(unlocated))
        return unlocated + failed

    @app.agent(classified_topic, name="router-route-classified")
    async def route_classified(stream: faust.StreamT) -> None:
        handler = BatchHandler(service=SERVICE, model=CallClassified, apply=route_and_send, send_dead_letters=send_dead)
        await consume_batches(stream, batching, handler)

    async def stored_case(call_id: str) -> CaseDocument | None:
        """The case, waiting a little for the metrics service to store it; None after the wait."""
        return await retry_until_done(
            f"read case {call_id}", lambda: cases().wait_until_stored(call_id, seconds=settings.case_wait_seconds)
        )

    async def redispatch(received: list[Received[CaseEvent]]) -> list[DeadLetter]:
        rerouting = [item.value for item in received if item.value.kind in REROUTING_KINDS]
        # Looked up together: a batch waits at most case_wait_seconds for cases not stored yet.
        stored = await asyncio.gather(*(stored_case(str(event.call_id)) for event in rerouting))
        dispatched: list[CaseEvent] = []
        unknown: list[DeadLetter] = []
        for event, case in zip(rerouting, stored, strict=True):
            if case is None:
                # Kept with the reason, to be replayed once the case exists: a return is never silently lost.
                unknown.append(_unknown_case_letter(event, settings.case_wait_seconds))
                continue
            assignment = decide_case_event(
                event, case, watcher.current(), gazetteer, utc_now(), settings, settings.timezone, scorer, lead
            )
            dispatched.append(dispatched_event(event, assignment))
            log.info(
                "case %s %s -> %s (attempt %d)", event.call_id, event.kind, assignment.queue_id, assignment.attempt
            )
        await retry_until_done(
            "send dispatched steps", functools.partial(send, topics.CASES_EVENTS, dispatched), retry_if=is_transient
        )
        return unknown

    @app.agent(events_topic, name="router-follow-cases")
    async def follow_cases(stream: faust.StreamT) -> None:
        # Unparseable case events are the metrics service's to dead-letter: here they are only skipped.
        handler = BatchHandler(
            service=SERVICE,
            model=CaseEvent,
            apply=redispatch,
            send_dead_letters=send_dead,
            invalid=InvalidMessages.skip,
        )
        await consume_batches(stream, batching, handler)


def _unknown_case_letter(event: CaseEvent, waited: float) -> DeadLetter:
    reason = f"{event.kind} for case {event.call_id}: no such case stored after waiting {waited:.0f}s"
    return dead_letter_of(SERVICE, event, reason)
