"""``POST /v1/programme/{problem_id}/{item_list}/{item_id}``: 每月一题 task and policy status updates."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, status

from services.intake import programme as programme_updates
from services.intake.deps import ApiKeyDep, PublisherDep, SettingsDep
from services.intake.programme import ProgrammeUpdateAccepted, ProgrammeUpdateIn
from services.intake.routes.common import BODY_ERROR_RESPONSES, ERROR_RESPONSES, publish_or_503
from services.intake.schemas import ErrorBody
from shared.api_keys import PROGRAMME_WRITE, SUPERVISOR
from shared.programme import load_programme

log = logging.getLogger(__name__)
router = APIRouter(tags=["programme"])


@router.post(
    "/v1/programme/{problem_id}/{item_list}/{item_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **ERROR_RESPONSES,
        **BODY_ERROR_RESPONSES,
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
    settings: SettingsDep,
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
        load_programme(settings.programme_path), problem_id, item_list, item_id, update.status
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
    await publish_or_503(
        publisher,
        [event],
        retry_after_seconds=settings.retry_after_seconds,
        what=f"programme update {problem_id}/{item_list}/{item_id}",
        refusal=lambda exc: f"update not accepted, retry: {exc}",
    )
    log.info("programme %s %s %s: %s by %s", problem_id, item_list, item_id, update.status, key.name)
    return ProgrammeUpdateAccepted(
        problem_id=problem_id,
        item_kind=event.item_kind,
        item_id=item_id,
        status=event.status,
        event_id=event.event_id,
        topic=event.topic,
    )
