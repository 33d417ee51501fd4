"""The router worker: classified calls in, routed calls out (thin: parse, route, send)."""

from __future__ import annotations

import asyncio
import functools
import logging

import faust
from faust.types import EventT

from services.common.streaming import (
    create_app,
    dead_letter_for,
    parse_events,
    raw_topic,
    retry_until_done,
    send_dead_letters,
)
from services.router.catalogue import DEFAULT_CATALOGUE_PATH, Catalogue, load_catalogue
from services.router.gazetteer import Gazetteer, load_gazetteer
from services.router.routing import route_call
from shared import topics
from shared.events import CallClassified, CallRouted, DeadLetter, utc_now
from shared.settings import Settings

SERVICE = "router"
BATCH_SIZE = 500
BATCH_WINDOW_SECONDS = 0.05

log = logging.getLogger(__name__)


def route_events(
    events: list[EventT], catalogue: Catalogue, gazetteer: Gazetteer
) -> tuple[list[CallRouted], list[DeadLetter]]:
    """Routed events of a batch, and dead letters for the messages that could not be parsed or routed."""
    routed: list[CallRouted] = []
    dead: list[DeadLetter] = []
    now = utc_now()
    for event in events:
        parsed, rejected = parse_events([event], CallClassified, SERVICE)
        dead.extend(rejected)
        for classified in parsed:
            try:
                assignment = route_call(classified, catalogue, gazetteer, now)
            except Exception as exc:  # a bug on one call must not stop the stream: keep it with the reason
                log.exception("routing call %s failed", classified.call_id)
                dead.append(dead_letter_for(SERVICE, event, f"routing failed: {type(exc).__name__}: {exc}"))
                continue
            routed.append(CallRouted.from_classified(classified, assignment))
    return routed, dead


def build_app(settings: Settings) -> faust.App:
    """The router worker: hotline.calls.classified.v1 in batches, hotline.calls.routed.v1 out."""
    catalogue = load_catalogue(settings.catalogue_path or DEFAULT_CATALOGUE_PATH)
    gazetteer = load_gazetteer()
    app = create_app(SERVICE, settings)
    classified_topic = raw_topic(app, topics.CALLS_CLASSIFIED)
    routed_topic = raw_topic(app, topics.CALLS_ROUTED)
    log.info(
        "catalogue %s (%d rules), gazetteer of %d streets/towns",
        catalogue.version,
        len(catalogue.rules),
        gazetteer.street_count,
    )

    async def send_routed(routed: list[CallRouted]) -> None:
        futures = [await routed_topic.send(key=r.key(), value=r.to_bytes()) for r in routed]
        await asyncio.gather(*futures)

    @app.agent(classified_topic, name="router-route-classified")
    async def route(stream: faust.StreamT) -> None:
        async for events in stream.take_events(  # type: ignore[attr-defined]
            BATCH_SIZE, within=BATCH_WINDOW_SECONDS
        ):
            routed, dead = route_events(list(events), catalogue, gazetteer)
            # Acked only once the broker has every routed event; a resend after a failure is harmless
            # because derived event ids are deterministic and consumers are idempotent.
            await retry_until_done("send routed batch", functools.partial(send_routed, routed))
            await send_dead_letters(app, dead)
            if routed:
                log.debug("routed %d calls, %d dead letters", len(routed), len(dead))

    return app
