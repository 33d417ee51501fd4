"""``/v1/cases/{call_id}/…``: the steps of a case's life (签收, 响应, 退单, 吹哨, 办结, 回访, …) and which
steps a key may take now. The rules are in ``services.intake.cases``; this module only wires them to HTTP."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError

from services.common.logs import call_fields
from services.intake import cases as case_steps
from services.intake.case_store import CaseStoreUnavailable, find_case
from services.intake.cases import CaseStepIn, StepAccepted, StepsAllowed
from services.intake.deps import CaseActorDep, CasesDep, CatalogueDep, PublisherDep, SettingsDep
from services.intake.routes.common import BODY_ERROR_RESPONSES, ERROR_RESPONSES, publish_or_503, unavailable
from services.intake.schemas import ErrorBody
from shared.api_keys import KeyRecord
from shared.cases import CaseDocument, CaseReadModel
from shared.events import UnitKind
from shared.gazetteer import load_gazetteer
from shared.queues import QueueId
from shared.reference import LEVEL1_CATEGORIES

log = logging.getLogger(__name__)
router = APIRouter(tags=["cases"])


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


async def existing_case(cases: CaseReadModel | None, call_id: uuid.UUID, retry_after_seconds: int) -> CaseDocument:
    """The case of ``call_id``: 503 with Retry-After when the store does not answer, 404 when unknown."""
    try:
        case = await find_case(cases, call_id)
    except CaseStoreUnavailable as exc:
        log.warning("case %s not read: %s", call_id, exc, extra=call_fields(call_id))
        raise unavailable(f"the case store did not answer, retry: {exc.kind}", retry_after_seconds) from exc
    if case is None:
        raise no_such_case(call_id)
    return case


def no_such_case(call_id: uuid.UUID) -> HTTPException:
    """The 404 of an unknown case; also a key's answer for a case none of its units leads or cooperates on, so
    that another unit cannot tell from the answer that the case exists, its status or the queue holding it."""
    return HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"no case {call_id} is known yet; a call just routed may not be stored yet, so retry in a moment",
    )


async def visible_case(
    cases: CaseReadModel | None, call_id: uuid.UUID, key: KeyRecord, retry_after_seconds: int
) -> CaseDocument:
    """The case of ``call_id`` if the key's units lead or cooperate on it (or it is a supervisor's key); the
    same 404 as an unknown case otherwise."""
    case = await existing_case(cases, call_id, retry_after_seconds)
    if case_steps.role_of(key, case) == "none":
        raise no_such_case(call_id)
    return case


@router.post(
    "/v1/cases/{call_id}/events",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **ERROR_RESPONSES,
        **BODY_ERROR_RESPONSES,
        403: {
            "model": ErrorBody,
            "description": "The key may not take this step on this case (its units cooperate on it, or the step "
            "is a supervisor's or a street's), or the key lacks cases:act and supervisor.",
        },
        404: {
            "model": ErrorBody,
            "description": "No such case (yet: retry shortly after routing), or one none of the key's units "
            "leads or cooperates on (the same answer).",
        },
        409: {"model": ErrorBody, "description": "The step is not legal in the case's status; says why."},
        422: {
            "model": ErrorBody,
            "description": "The step lacks what it needs (departments, result, ...), or names an assignee who is "
            "not an operator of the lead unit (when intake knows the console's users of that unit).",
        },
    },
)
async def take_step(
    call_id: uuid.UUID,
    step: CaseStepIn,
    key: CaseActorDep,
    publisher: PublisherDep,
    cases: CasesDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    request: Request,
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
    case = await visible_case(cases, call_id, key, settings.retry_after_seconds)
    forbidden = case_steps.permission_problem(key, case, step.kind)
    if forbidden:
        raise HTTPException(status.HTTP_403_FORBIDDEN, forbidden)
    status_after, illegal = case_steps.status_problem(case, step.kind)
    if illegal:
        raise HTTPException(status.HTTP_409_CONFLICT, illegal)
    stranger = case_steps.assignee_operator_problem(step, case, request.app.state.key_store.keys())
    if stranger:
        raise RequestValidationError([{"loc": ["body", "assignee"], "msg": stranger, "type": "not_an_operator"}])
    event = case_steps.case_event(
        step,
        case,
        key,
        call_id=call_id,
        event_id=case_steps.event_id_for(call_id, key.name, idempotency_key),
        catalogue=current,
        now=datetime.now(UTC),
        timezone=settings.timezone,
    )
    await publish_or_503(
        publisher,
        [event],
        retry_after_seconds=settings.retry_after_seconds,
        what=f"case step {step.kind} of {call_id}",
        refusal=lambda exc: f"step not accepted, retry: {exc}",
    )
    log.info("case %s: %s by %s", call_id, step.kind, key.name, extra=call_fields(call_id, event.event_id))
    return StepAccepted(
        call_id=call_id,
        event_id=event.event_id,
        kind=step.kind,
        status_before=case.status,
        status_after=status_after,
        topic=event.topic,
    )


@router.get(
    "/v1/cases/{call_id}/steps",
    responses={
        **ERROR_RESPONSES,
        404: {
            "model": ErrorBody,
            "description": "No such case (yet), or one none of the key's units leads or "
            "cooperates on (the same answer).",
        },
    },
)
async def steps(call_id: uuid.UUID, key: CaseActorDep, cases: CasesDep, settings: SettingsDep) -> StepsAllowed:
    """The steps this key may take on the case now (what a console should offer). A key whose units neither
    lead nor cooperate on the case gets the same 404 as for an unknown case: it may not see its status."""
    case = await visible_case(cases, call_id, key, settings.retry_after_seconds)
    role, allowed = case_steps.steps_for(key, case)
    return StepsAllowed(call_id=call_id, status=case.status, role=role, steps=allowed)
