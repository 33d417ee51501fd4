"""What every intake route answers alike: the error bodies it documents, 503 with Retry-After, the one
publish-or-refuse step (every route that publishes: calls, case steps, programme updates, Open311), and
422 bodies that never echo the input."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.common.logs import call_fields
from services.intake.publisher import BrokerUnavailable, EventPublisher, PublishFailed
from services.intake.schemas import ErrorBody
from services.intake.submissions import field_errors
from shared.events import EventBase

log = logging.getLogger(__name__)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "X-API-Key missing or unknown."},
    403: {
        "model": ErrorBody,
        "description": "The key lacks the calls:write scope, or is bound to other source_system names.",
    },
    503: {
        "model": ErrorBody,
        "description": "The broker did not acknowledge: nothing is promised; retry after Retry-After seconds.",
    },
}


BODY_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "The body is larger than max_request_bytes (refused before parsing)."},
    415: {"model": ErrorBody, "description": "The body is not JSON (Content-Type: application/json)."},
}
"""What every route taking a JSON body may answer besides ERROR_RESPONSES (services/common/limits.py)."""


def unavailable(detail: Any, retry_after_seconds: int) -> HTTPException:
    """503 with Retry-After: nothing was promised, submit again later."""
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail, headers={"Retry-After": str(retry_after_seconds)})


async def publish_or_refuse(
    publisher: EventPublisher,
    events: Sequence[EventBase],
    *,
    what: str,
    refusal: Callable[[BrokerUnavailable | PublishFailed], Exception],
) -> None:
    """Publish ``events`` (acks=all); when the broker did not acknowledge, log it and raise ``refusal(exc)``:
    nothing is promised, the client submits again (resubmitting is safe: the ids are deterministic)."""
    try:
        await publisher.publish(events)
    except (BrokerUnavailable, PublishFailed) as exc:
        about = call_fields(getattr(events[0], "call_id", None), events[0].event_id) if len(events) == 1 else {}
        log.warning("%s not acknowledged: %s", what, exc, extra=about)
        raise refusal(exc) from exc


async def publish_or_503(
    publisher: EventPublisher,
    events: Sequence[EventBase],
    *,
    retry_after_seconds: int,
    what: str,
    refusal: Callable[[BrokerUnavailable | PublishFailed], Any],
) -> None:
    """:func:`publish_or_refuse` answering 503 with Retry-After and ``refusal(exc)`` as the detail."""
    await publish_or_refuse(
        publisher, events, what=what, refusal=lambda exc: unavailable(refusal(exc), retry_after_seconds)
    )


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with {loc, msg, type} per problem, without the input itself (it may hold a phone number)."""
    return JSONResponse(status_code=422, content={"detail": field_errors(exc.errors())})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
