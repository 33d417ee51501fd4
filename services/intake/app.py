"""The intake's composition root: ``create_app(settings)`` wires keys, publisher and routes together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from services.intake import domain
from services.intake.deps import CallsWriterDep, PublisherDep, SettingsDep
from services.intake.keys import KeyStore
from services.intake.publisher import BrokerUnavailable, EventPublisher, PublishFailed
from services.intake.schemas import (
    EXAMPLE_EN,
    EXAMPLE_ZH,
    BatchAccepted,
    BatchItemResult,
    CallAccepted,
    CallBatch,
    CallSubmission,
    ErrorBody,
    FieldError,
    RawCallBatch,
)
from shared import topics
from shared.events import CallReceived
from shared.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = f"""
The REST intake of the Hotline citizen-service platform (Beijing 12345 / a US 311 line). Integrations
(the 12345 CTI, web and app forms, WeChat/Weibo bridges, Open311 gateways) submit citizens' requests
(诉求) here; this is the 接诉 ("receive") step of 接诉即办, *handle on receipt*.

Each accepted call becomes a `CallReceived` event on **`{topics.CALLS_RECEIVED}`** (key = `call_id`),
published with `acks=all`: **202 means the broker acknowledged it**; 503 with `Retry-After` means it did not,
so submit again. The classifier, router and metrics services then write `{topics.CALLS_CLASSIFIED}`,
`{topics.CALLS_ROUTED}`, and poison messages go to `{topics.DEADLETTER}`.

**Resubmitting is safe.** `call_id` is a UUIDv5 of (`source_system`, `external_id`), and the event id is
derived from it, so a resubmitted call gets the same ids; the repeated event is harmless because every
consumer is idempotent (a case already stored is not stored or counted again).

Authenticate with an `X-API-Key` header (create one with `hotline keys --name NAME`); submitting needs the
`calls:write` scope. The citizen's phone number is never published or logged: the event carries a salted
hash (to link a citizen's calls) and a masked form such as `138****5678`.
"""

_SUBMISSIONS = TypeAdapter(list[CallSubmission])

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "X-API-Key missing or unknown."},
    403: {"model": ErrorBody, "description": "The key lacks the calls:write scope."},
    503: {
        "model": ErrorBody,
        "description": "The broker did not acknowledge: nothing is promised; retry after Retry-After seconds.",
    },
}


def field_errors(errors: Sequence[Any], *, prefix: tuple[str | int, ...] = ()) -> list[dict[str, Any]]:
    """Validation errors as {loc, msg, type}, without echoing the input (which may hold a phone number)."""
    return [
        FieldError(loc=[*prefix, *error["loc"]], msg=error["msg"], type=error["type"]).model_dump() for error in errors
    ]


def text_too_long(submission: CallSubmission, max_chars: int, *, prefix: tuple[str | int, ...]) -> dict[str, Any]:
    return FieldError(
        loc=[*prefix, "body"],
        msg=f"subject and body together are {submission.text_length()} characters; at most {max_chars} are accepted",
        type="text_too_long",
    ).model_dump()


def event_for(submission: CallSubmission, settings: Settings, now: datetime) -> CallReceived:
    return domain.call_received(
        channel=submission.channel,
        source_system=submission.source_system,
        external_id=submission.external_id,
        subject=submission.subject,
        body=submission.body,
        language=submission.language,
        location=submission.location.to_location() if submission.location is not None else None,
        contact_phone=submission.contact_phone,
        received_at=submission.received_at,
        contact_salt=settings.contact_salt,
        now=now,
    )


def broker_unavailable(settings: Settings, detail: Any) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail, headers={"Retry-After": str(settings.intake.retry_after_seconds)}
    )


def create_app(settings: Settings, *, publisher: EventPublisher | None = None) -> FastAPI:
    """The intake FastAPI app for ``settings``; the publisher connects (and keeps retrying) at start-up."""
    the_publisher = publisher or EventPublisher(settings.kafka)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await the_publisher.start()
        try:
            yield
        finally:
            await the_publisher.stop()

    app = FastAPI(
        title="Hotline intake (接诉即办 · 12345 / 311)",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.publisher = the_publisher
    app.state.key_store = KeyStore(settings.intake.api_keys_file)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": field_errors(exc.errors())})

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is alive (says nothing about the broker)."""
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "Not connected to the broker."}})
    async def readyz(publisher: PublisherDep) -> JSONResponse:
        """200 only when the producer is connected and the broker answers; 503 otherwise."""
        if await publisher.ready():
            return JSONResponse({"status": "ready", "broker": settings.kafka.bootstrap_servers})
        return JSONResponse(
            {"status": "not ready", "broker": settings.kafka.bootstrap_servers, "reason": publisher.last_error},
            status_code=503,
            headers={"Retry-After": str(settings.intake.retry_after_seconds)},
        )

    @app.post(
        "/v1/calls",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["calls"],
        responses=_ERROR_RESPONSES,
    )
    async def submit_call(
        submission: Annotated[
            CallSubmission,
            Body(
                openapi_examples={
                    "zh": {"summary": "12345 phone call (Chinese)", "value": EXAMPLE_ZH},
                    "en": {"summary": "Open311 request (English)", "value": EXAMPLE_EN},
                }
            ),
        ],
        key: CallsWriterDep,
        publisher: PublisherDep,
        settings: SettingsDep,
    ) -> CallAccepted:
        """Accept one call: 202 only after the broker acknowledged its CallReceived event."""
        if submission.text_length() > settings.intake.max_text_chars:
            raise RequestValidationError([text_too_long(submission, settings.intake.max_text_chars, prefix=())])
        event = event_for(submission, settings, datetime.now(UTC))
        try:
            await publisher.publish([event])
        except (BrokerUnavailable, PublishFailed) as exc:
            log.warning("call %s not acknowledged: %s", event.call_id, exc)
            raise broker_unavailable(settings, f"call not accepted, retry: {exc}") from exc
        return CallAccepted(call_id=event.call_id, status="accepted", event_id=event.event_id, topic=event.topic)

    @app.post(
        "/v1/calls/batch",
        tags=["calls"],
        response_model_exclude_none=True,
        responses={
            **_ERROR_RESPONSES,
            413: {"model": ErrorBody, "description": "More calls than max_batch."},
            422: {"model": ErrorBody, "description": "The body is not {calls: [...]} (items are judged one by one)."},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallBatch"}}},
            }
        },
    )
    async def submit_batch(
        request: Request, key: CallsWriterDep, publisher: PublisherDep, settings: SettingsDep
    ) -> BatchAccepted:
        """Accept up to max_batch calls: invalid items are rejected with reasons, the valid ones published together.

        200 once the broker acknowledged every accepted item; 503 (naming the unacknowledged items) otherwise.
        """
        try:
            envelope = RawCallBatch.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(field_errors(exc.errors(), prefix=("body",))) from exc
        items = envelope.calls
        if len(items) > settings.intake.max_batch:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"body.calls has {len(items)} items; at most {settings.intake.max_batch} are accepted per batch",
            )
        results, events = build_batch(items, settings, datetime.now(UTC))
        try:
            await publisher.publish(events)
        except (BrokerUnavailable, PublishFailed) as exc:
            failed_positions = getattr(exc, "not_acknowledged", range(len(events)))
            failed_calls = {events[p].call_id for p in failed_positions}
            not_acknowledged = [r.index for r in results if r.call_id in failed_calls]
            log.warning("batch: %d of %d items not acknowledged: %s", len(not_acknowledged), len(items), exc)
            raise broker_unavailable(
                settings,
                {
                    "message": f"batch not fully accepted, resubmit the items listed (resubmitting is safe): {exc}",
                    "not_acknowledged": not_acknowledged,
                    "rejected": [r.index for r in results if r.status == "rejected"],
                },
            ) from exc
        rejected = sum(r.status == "rejected" for r in results)
        log.info("batch from %s: %d accepted, %d rejected", key.name, len(results) - rejected, rejected)
        return BatchAccepted(accepted=len(results) - rejected, rejected=rejected, results=results)

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags
        )
        batch_schema = CallBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in batch_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["CallBatch"] = batch_schema
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app


def build_batch(
    items: Sequence[Any], settings: Settings, now: datetime
) -> tuple[list[BatchItemResult], list[CallReceived]]:
    """Judge every item: the results in request order and the events to publish.

    Items repeating an earlier item's call_id are accepted as its duplicate and not published twice.
    """
    try:
        valid = dict(enumerate(_SUBMISSIONS.validate_python(items)))
        errors_by_index: dict[int, list[dict[str, Any]]] = {}
    except ValidationError as exc:
        errors_by_index = {}
        for error in exc.errors():
            index = int(error["loc"][0])
            errors_by_index.setdefault(index, []).append({**error, "loc": error["loc"][1:]})
        good = [i for i in range(len(items)) if i not in errors_by_index]
        valid = dict(zip(good, _SUBMISSIONS.validate_python([items[i] for i in good]), strict=True))

    max_chars = settings.intake.max_text_chars
    results: list[BatchItemResult] = []
    events: list[CallReceived] = []
    first_index_of: dict[Any, int] = {}
    for index in range(len(items)):
        if index in errors_by_index:
            errors = [FieldError.model_validate(e) for e in field_errors(errors_by_index[index])]
            results.append(BatchItemResult(index=index, status="rejected", errors=errors))
            continue
        submission = valid[index]
        if submission.text_length() > max_chars:
            too_long = FieldError.model_validate(text_too_long(submission, max_chars, prefix=()))
            results.append(BatchItemResult(index=index, status="rejected", errors=[too_long]))
            continue
        event = event_for(submission, settings, now)
        earlier = first_index_of.get(event.call_id)
        if earlier is not None:
            results.append(BatchItemResult(index=index, call_id=event.call_id, status="accepted", duplicate_of=earlier))
            continue
        first_index_of[event.call_id] = index
        events.append(event)
        results.append(BatchItemResult(index=index, call_id=event.call_id, status="accepted"))
    return results, events
