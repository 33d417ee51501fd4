"""``POST /v1/calls`` and ``POST /v1/calls/batch``: citizens' requests in, CallReceived events out."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.intake.deps import CallPath, CallPathDep, CallsWriterDep
from services.intake.publisher import BrokerUnavailable, PublishFailed
from services.intake.routes.common import BODY_ERROR_RESPONSES, ERROR_RESPONSES, publish_or_503
from services.intake.schemas import (
    EXAMPLE_EN,
    EXAMPLE_ZH,
    BatchAccepted,
    BatchItemResult,
    CallAccepted,
    CallConflict,
    CallSubmission,
    ConflictBody,
    ErrorBody,
    RawCallBatch,
)
from services.intake.settings import IntakeSettings
from services.intake.submissions import (
    ReceivedWindow,
    build_batch,
    conflict_message,
    conflicts,
    content_hash,
    event_for,
    field_errors,
    reject_conflicts,
    reject_foreign_sources,
    submission_problem,
)
from shared.events import CallReceived

log = logging.getLogger(__name__)
router = APIRouter(tags=["calls"])


# A rejected batch item's first error type -> the status /v1/calls would have answered for that call alone.
ITEM_STATUS = {"forbidden": status.HTTP_403_FORBIDDEN, "conflict": status.HTTP_409_CONFLICT}


def item_status(result: BatchItemResult) -> int:
    """The HTTP status one item of a batch stands for: 202 accepted, else 403, 409 or 422 by its error."""
    if result.status == "accepted":
        return status.HTTP_202_ACCEPTED
    return ITEM_STATUS.get(result.errors[0].type if result.errors else "", status.HTTP_422_UNPROCESSABLE_CONTENT)


def received_window(settings: IntakeSettings) -> ReceivedWindow:
    return ReceivedWindow(settings.received_at_earliest, timedelta(seconds=settings.clock_skew_seconds))


async def stored_versions(path: CallPath, events: list[CallReceived]) -> dict[uuid.UUID, str]:
    """Content hashes of the versions accepted before of these calls: this process's recent ones, else the
    stored cases'. Without a reachable case store only the recent ones are known (calls do not wait for it)."""
    known = {e.call_id: h for e in events if (h := path.recent.get(e.call_id)) is not None}
    unknown = [str(e.call_id) for e in events if e.call_id not in known]
    if unknown and path.stored_calls is not None:
        try:
            stored = await path.stored_calls.stored_calls(unknown)
        except Exception as exc:  # the case store is not on the call path: accept without this check
            log.warning("resubmission check skipped, case store: %s: %s", type(exc).__name__, exc)
            stored = {}
        known.update({uuid.UUID(call_id): call.content_hash() for call_id, call in stored.items()})
    return known


@router.post(
    "/v1/calls",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **ERROR_RESPONSES,
        **BODY_ERROR_RESPONSES,
        409: {"model": ConflictBody, "description": "Accepted before with other content: the stored version's hash."},
    },
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
    path: CallPathDep,
) -> CallAccepted:
    """Accept one call: 202 only after the broker acknowledged its CallReceived event.

    The same (source_system, external_id) again: 202 with the same call_id when the content is the same
    (idempotent), 409 with the accepted version's content hash when it differs."""
    settings = path.settings
    if not key.submits_for(submission.source_system):
        raise HTTPException(status.HTTP_403_FORBIDDEN, key.source_refusal(submission.source_system))
    now = datetime.now(UTC)
    problem = submission_problem(
        submission, max_text_chars=settings.max_text_chars, window=received_window(settings), now=now, prefix=()
    )
    if problem is not None:
        raise RequestValidationError([problem])
    event = event_for(submission, settings.contact_salt, now)
    refused = conflicts([event], await stored_versions(path, [event]))
    if refused:
        stored_hash = refused[event.call_id]
        conflict = CallConflict(
            message=conflict_message(event.call_id, stored_hash),
            call_id=event.call_id,
            stored_hash=stored_hash,
            submitted_hash=content_hash(event),
        )
        raise HTTPException(status.HTTP_409_CONFLICT, conflict.model_dump(mode="json"))
    await publish_or_503(
        path.publisher,
        [event],
        retry_after_seconds=settings.retry_after_seconds,
        what=f"call {event.call_id}",
        refusal=lambda exc: f"call not accepted, retry: {exc}",
    )
    path.recent.remember([event])
    return CallAccepted(call_id=event.call_id, status="accepted", event_id=event.event_id, topic=event.topic)


@router.post(
    "/v1/calls/batch",
    response_model_exclude_none=True,
    responses={
        **ERROR_RESPONSES,
        **BODY_ERROR_RESPONSES,
        413: {"model": ErrorBody, "description": "More calls than max_batch, or more bytes than max_request_bytes."},
        422: {"model": ErrorBody, "description": "The body is not {calls: [...]} (items are judged one by one)."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallBatch"}}},
        }
    },
)
async def submit_batch(request: Request, key: CallsWriterDep, path: CallPathDep) -> BatchAccepted:
    """Accept up to max_batch calls: invalid items are rejected with reasons, the valid ones published together.

    200 once the broker acknowledged every accepted item; 503 (naming the unacknowledged items) otherwise.
    """
    settings = path.settings
    try:
        envelope = RawCallBatch.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(field_errors(exc.errors(), prefix=("body",))) from exc
    items = envelope.calls
    if len(items) > settings.max_batch:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"body.calls has {len(items)} items; at most {settings.max_batch} are accepted per batch",
        )
    results, events = build_batch(
        items,
        max_text_chars=settings.max_text_chars,
        window=received_window(settings),
        contact_salt=settings.contact_salt,
        now=datetime.now(UTC),
    )
    results, events = reject_foreign_sources(results, events, key)  # before the lookup: no peeking at others' ids
    results, events = reject_conflicts(results, events, await stored_versions(path, events))

    def refusal(exc: BrokerUnavailable | PublishFailed) -> dict[str, object]:
        failed_positions = getattr(exc, "not_acknowledged", range(len(events)))
        failed_calls = {events[p].call_id for p in failed_positions}
        return {
            "message": f"batch not fully accepted, resubmit the items listed (resubmitting is safe): {exc}",
            "not_acknowledged": [r.index for r in results if r.call_id in failed_calls],
            "rejected": [r.index for r in results if r.status == "rejected"],
        }

    await publish_or_503(
        path.publisher,
        events,
        retry_after_seconds=settings.retry_after_seconds,
        what=f"batch of {len(items)} items from {key.name}",
        refusal=refusal,
    )
    path.recent.remember(events)
    request.state.call_statuses = [item_status(r) for r in results]  # hotline_intake_calls_total, one per item
    rejected = sum(r.status == "rejected" for r in results)
    log.info("batch from %s: %d accepted, %d rejected", key.name, len(results) - rejected, rejected)
    return BatchAccepted(accepted=len(results) - rejected, rejected=rejected, results=results)
