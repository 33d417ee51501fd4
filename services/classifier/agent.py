"""The classifier agent: received calls in, classified calls out, poison messages to the dead-letter topic.

Thin on purpose: parse a batch, classify it with one model call, send, and wait for the broker's
acknowledgement of every message before faust acks the batch (at-least-once; the derived event ids
make a replay recognisable).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import cast

import faust

from services.classifier.model import Classifier
from services.classifier.settings import ClassifierSettings
from services.common.streaming import create_app, parse_events, raw_topic, send_dead_letters
from shared import topics
from shared.events import CallClassified, CallReceived
from shared.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "classifier"


def classify_calls(model: Classifier, received: Sequence[CallReceived]) -> list[CallClassified]:
    """The classified event of each received call, classified together in one batch."""
    decisions = model.predict([(event.call.subject, event.call.body) for event in received])
    return [CallClassified.from_received(event, decision) for event, decision in zip(received, decisions, strict=True)]


def build_app(settings: Settings, classifier_settings: ClassifierSettings | None = None) -> faust.App:
    """The classifier worker: consume hotline.calls.received.v1 in batches, produce hotline.calls.classified.v1."""
    own = classifier_settings or ClassifierSettings()
    model = Classifier.load(settings.model_path, min_confidence=own.min_confidence)
    log.info("classifier model %s loaded", model.model_version)
    app = create_app(SERVICE, settings)
    received_topic = raw_topic(app, topics.CALLS_RECEIVED)
    classified_topic = raw_topic(app, topics.CALLS_CLASSIFIED)

    @app.agent(received_topic, name="classifier-classify-received")
    async def classify_received(stream: faust.StreamT) -> None:
        # take_events is on the concrete Stream, not on the StreamT interface faust types agents with.
        async for events in cast(faust.Stream, stream).take_events(own.batch_size, within=own.batch_window_seconds):
            received, dead = parse_events(events, CallReceived, SERVICE)
            await send_dead_letters(app, dead)
            if not received:
                continue
            # CPU-bound (and the English encoder takes milliseconds a call): off the event loop.
            classified = await asyncio.to_thread(classify_calls, model, received)
            acks = [await classified_topic.send(key=event.key(), value=event.to_bytes()) for event in classified]
            await asyncio.gather(*acks)
            log.debug("classified %d calls", len(classified))

    return app
