"""The intake's composition root: ``create_app(settings)`` wires keys, publisher and routes together."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Header, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import hotline_database, mongo_client
from services.intake import cases as case_steps
from services.intake import domain
from services.intake import programme as programme_updates
from services.intake.cases import CaseStepIn, StepAccepted, StepsAllowed
from services.intake.deps import ApiKeyDep, CallsWriterDep, CaseActorDep, CasesDep, PublisherDep, SettingsDep
from services.intake.open311.routes import router as open311_router
from services.intake.programme import ProgrammeUpdateAccepted, ProgrammeUpdateIn
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
from shared.api_keys import PROGRAMME_WRITE, SUPERVISOR, KeyStore
from shared.catalogue import DEFAULT_CATALOGUE_PATH
from shared.catalogue_watch import CatalogueWatcher
from shared.events import CallReceived, UnitKind
from shared.gazetteer import load_gazetteer
from shared.programme import load_programme
from shared.queues import QueueId
from shared.reference import LEVEL1_CATEGORIES
from shared.settings import ServiceSettings, Settings

log = logging.getLogger(__name__)
CASES = "cases"


async def database_problem(cases: Any) -> str | None:
    """None when the case store answers a ping, else why not."""
    if cases is None:
        return "database not connected"
    try:
        await cases.database.command("ping")
    except Exception as exc:
        return f"database: {type(exc).__name__}: {exc}"
    return None


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

每月一题 (Monthly Question) task and policy status updates come in here too, as `ProgrammeItemUpdated`
events on **`{topics.PROGRAMME_EVENTS}`** (key = `problem_id`): they need the `supervisor` or
`programme:write` scope (`hotline keys --name NAME --scope programme:write`).
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


def queue_is_known(queue_id: str, department_queues: frozenset[str]) -> bool:
    """Whether ``queue_id`` names a real queue: a catalogue department, a gazetteer street or district, manual."""
    districts = load_gazetteer().districts
    queue = QueueId.try_parse(queue_id)
    if queue is None:
        return False
    if queue.kind is UnitKind.street:
        return queue.street in districts.get(str(queue.district), [])
    if queue.kind is UnitKind.district:
        return queue.body in districts
    return queue_id in department_queues or queue_id in case_steps.MANUAL_QUEUES


def create_app(
    settings: Settings,
    *,
    publisher: EventPublisher | None = None,
    database: AsyncDatabase | None = None,
    programme_path: Path | None = None,
) -> FastAPI:
    """The intake FastAPI app for ``settings``; the publisher connects (and keeps retrying) at start-up.

    ``programme_path``: the 每月一题 programme YAML updates are checked against; default:
    ``HOTLINE_PROGRAMME_PATH`` (metrics reads the same variable), else the shipped file, so both agree.
    """
    the_programme_path = programme_path or ServiceSettings().programme_path
    the_publisher = publisher or EventPublisher(settings.kafka)
    client: AsyncMongoClient | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal client
        if database is None:
            client = mongo_client(settings.mongodb, fail_fast=True)
            app.state.cases = hotline_database(client, settings.mongodb)[CASES]
        await the_publisher.start()
        try:
            yield
        finally:
            await the_publisher.stop()
            if client is not None:
                await client.close()

    app = FastAPI(
        title="Hotline intake (接诉即办 · 12345 / 311)",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.publisher = the_publisher
    app.state.key_store = KeyStore(settings.intake.api_keys_file)
    app.state.cases = database[CASES] if database is not None else None
    catalogue = CatalogueWatcher(settings.catalogue_path or DEFAULT_CATALOGUE_PATH)
    app.state.catalogue = catalogue

    app.include_router(open311_router)  # Open311 GeoReport v2 at /open311/v2/ (docs/open311.md)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": field_errors(exc.errors())})

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is alive (says nothing about the broker)."""
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "Not connected to the broker."}})
    async def readyz(publisher: PublisherDep, cases: CasesDep) -> JSONResponse:
        """200 only when the broker and the database answer; 503 otherwise."""
        broker_ready = await publisher.ready()
        database_error = await database_problem(cases)
        if broker_ready and database_error is None:
            return JSONResponse({"status": "ready", "broker": settings.kafka.bootstrap_servers, "database": "ok"})
        return JSONResponse(
            {
                "status": "not ready",
                "broker": settings.kafka.bootstrap_servers,
                "reason": "; ".join(
                    r
                    for r in ((None if broker_ready else publisher.last_error or "broker not ready"), database_error)
                    if r
                ),
            },
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

    async def find_case(cases: Any, call_id: uuid.UUID) -> dict[str, Any]:
        try:
            case = await cases.find_one({"_id": str(call_id)})
        except Exception as exc:
            log.warning("case %s not read: %s: %s", call_id, type(exc).__name__, exc)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"the case store did not answer, retry: {type(exc).__name__}",
                headers={"Retry-After": str(settings.intake.retry_after_seconds)},
            ) from exc
        if case is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no case {call_id} is known yet; a call just routed may not be stored yet, so retry in a moment",
            )
        return case

    @app.post(
        "/v1/cases/{call_id}/events",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["cases"],
        responses={
            **_ERROR_RESPONSES,
            403: {"model": ErrorBody, "description": "The key may not take this step on this case."},
            404: {"model": ErrorBody, "description": "No such case (yet: retry shortly after routing)."},
            409: {"model": ErrorBody, "description": "The step is not legal in the case's status; says why."},
            422: {"model": ErrorBody, "description": "The step lacks what it needs (departments, result, ...)."},
        },
    )
    async def take_step(
        call_id: uuid.UUID,
        step: CaseStepIn,
        key: CaseActorDep,
        publisher: PublisherDep,
        cases: CasesDep,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> StepAccepted:
        """Take a step on a case (签收, 响应, 退单, 吹哨, 办结, 回访, ...): 202 once the broker acknowledged it."""
        current = catalogue.current()
        problems = case_steps.step_field_problems(
            step,
            department_queues=current.department_queues(),
            categories=LEVEL1_CATEGORIES,
            queue_is_known=lambda q: queue_is_known(q, current.department_queues()),
        )
        if problems:
            raise RequestValidationError(problems)
        case = await find_case(cases, call_id)
        forbidden = case_steps.permission_problem(key, case, step.kind)
        if forbidden:
            raise HTTPException(status.HTTP_403_FORBIDDEN, forbidden)
        status_after, illegal = case_steps.status_problem(case, step.kind)
        if illegal:
            raise HTTPException(status.HTTP_409_CONFLICT, illegal)
        event = case_steps.case_event(
            step,
            case,
            key,
            call_id=call_id,
            event_id=case_steps.event_id_for(call_id, key.name, idempotency_key),
            catalogue_version=current.version,
        )
        try:
            await publisher.publish([event])
        except (BrokerUnavailable, PublishFailed) as exc:
            log.warning("case step %s of %s not acknowledged: %s", step.kind, call_id, exc)
            raise broker_unavailable(settings, f"step not accepted, retry: {exc}") from exc
        log.info("case %s: %s by %s", call_id, step.kind, key.name)
        return StepAccepted(
            call_id=call_id,
            event_id=event.event_id,
            kind=step.kind,
            status_before=str(case.get("status")),
            status_after=status_after,
            topic=event.topic,
        )

    @app.get("/v1/cases/{call_id}/steps", tags=["cases"], responses=_ERROR_RESPONSES)
    async def steps(call_id: uuid.UUID, key: CaseActorDep, cases: CasesDep) -> StepsAllowed:
        """The steps this key may take on the case now (what a console should offer)."""
        case = await find_case(cases, call_id)
        role, allowed = case_steps.steps_for(key, case)
        return StepsAllowed(call_id=call_id, status=str(case.get("status")), role=role, steps=allowed)

    @app.post(
        "/v1/programme/{problem_id}/{item_list}/{item_id}",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["programme"],
        responses={
            **_ERROR_RESPONSES,
            403: {"model": ErrorBody, "description": "The key lacks the supervisor or programme:write scope."},
            404: {"model": ErrorBody, "description": "No such problem, kind of item (tasks, policies) or item."},
            422: {"model": ErrorBody, "description": "The status does not exist for this kind of item."},
        },
    )
    async def update_programme_item(
        problem_id: str,
        item_list: str,
        item_id: str,
        update: ProgrammeUpdateIn,
        key: ApiKeyDep,
        publisher: PublisherDep,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> ProgrammeUpdateAccepted:
        """Report a 每月一题 task's or policy's new status (``item_list``: tasks or policies).

        202 once the broker acknowledged its ProgrammeItemUpdated event; the metrics service applies it
        once, bumping the item's version and keeping it in the item's history (``GET /v1/programme``).
        """
        if not programme_updates.may_update_programme(key):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"API key '{key.name}' lacks the scope {SUPERVISOR} or {PROGRAMME_WRITE} "
                f"(it has: {', '.join(key.scopes) or 'none'})",
            )
        problem = programme_updates.update_problem(
            load_programme(the_programme_path), problem_id, item_list, item_id, update.status
        )
        if problem is not None:
            code, detail = problem
            raise HTTPException(code, detail)
        event = programme_updates.programme_event(
            update,
            problem_id=problem_id,
            item_list=item_list,
            item_id=item_id,
            key=key,
            event_id=programme_updates.event_id_for(problem_id, item_list, item_id, key.name, idempotency_key),
            now=datetime.now(UTC),
        )
        try:
            await publisher.publish([event])
        except (BrokerUnavailable, PublishFailed) as exc:
            log.warning("programme update %s/%s/%s not acknowledged: %s", problem_id, item_list, item_id, exc)
            raise broker_unavailable(settings, f"update not accepted, retry: {exc}") from exc
        log.info("programme %s %s %s: %s by %s", problem_id, item_list, item_id, update.status, key.name)
        return ProgrammeUpdateAccepted(
            problem_id=problem_id,
            item_kind=event.item_kind,
            item_id=item_id,
            status=event.status,
            event_id=event.event_id,
            topic=event.topic,
        )

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
