"""The classifier's faust adapter: received calls in, classified calls out, poison messages to the dead-letter topic.

The composition root (``app.py``) loads the model, builds the faust app and hands both in. Thin on purpose:
parse a batch, classify it with one model call, send, and wait for the broker's acknowledgement of every
message before faust acks the batch (at-least-once; the derived event ids make a replay recognisable).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import faust

from services.classifier.model import Classifier
from services.classifier.requested import DEFAULT_OVERRIDE_ABOVE, respect_requested
from services.classifier.settings import ClassifierSettings
from services.common.observability import observe_classifications
from services.common.streaming import (
    BatchHandler,
    Batching,
    Received,
    consume_batches,
    dead_letter_sender,
    publish,
    raw_topic,
)
from shared import topics
from shared.events import CallClassified, CallReceived, DeadLetter

log = logging.getLogger(__name__)

SERVICE = "classifier"


def classify_calls(
    model: Classifier, received: Sequence[CallReceived], *, override_above: float = DEFAULT_OVERRIDE_ABOVE
) -> list[CallClassified]:
    """The classified event of each received call, classified together in one batch; a service the citizen
    chose is kept unless the model is sure it is wrong (``services.classifier.requested``)."""
    decisions = model.predict([(event.call.subject, event.call.body) for event in received])
    decisions = respect_requested(model, received, decisions, override_above=override_above)
    return [CallClassified.from_received(event, decision) for event, decision in zip(received, decisions, strict=True)]


def register_agents(app: faust.App, model: Classifier, settings: ClassifierSettings) -> None:
    """Consume hotline.calls.received.v1 in batches of ``settings.batch_size``, produce hotline.calls.classified.v1."""
    received_topic = raw_topic(app, topics.CALLS_RECEIVED)

    async def classify_and_send(received: list[Received[CallReceived]]) -> list[DeadLetter]:
        # CPU-bound (an English call is tokenised, a batch is a sparse product): off the event loop.
        classified = await asyncio.to_thread(
            classify_calls,
            model,
            [item.value for item in received],
            override_above=settings.requested_override_above,
        )
        await publish(app, topics.CALLS_CLASSIFIED, [(event.key(), event.to_bytes()) for event in classified])
        observe_classifications(event.classification for event in classified)
        log.debug("classified %d calls", len(classified))
        return []

    handler = BatchHandler(
        service=SERVICE, model=CallReceived, apply=classify_and_send, send_dead_letters=dead_letter_sender(app)
    )

    @app.agent(received_topic, name="classifier-classify-received")
    async def classify_received(stream: faust.StreamT) -> None:
        await consume_batches(stream, Batching(settings.batch_size, settings.batch_window_seconds), handler)
