"""One case (``/cases/{call_id}``) with its history and the steps the user may take now, and taking a
step (``POST /cases/{call_id}/steps``): posted to intake with the user's own API key."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import access, views
from services.console.openapi import StepForm, answers, form_body
from services.console.reference import Choices
from services.console.users import User
from services.console.web import current_user, form_of, intake, language, metrics, refuse, render, users
from shared.cases import is_overdue
from shared.events import CallbackResult, CaseEventKind
from shared.queues import QueueId

router = APIRouter()


@router.get("/cases/{call_id}", response_class=HTMLResponse, responses=answers(303, 404))
async def case_page(call_id: str, request: Request) -> HTMLResponse:
    """One case with its history and the steps the user may take now."""
    user = current_user(request)
    return await show_case(request, user, call_id)


async def show_case(
    request: Request, user: User, call_id: str, *, refused: str | None = None, status_code: int = 200
) -> HTMLResponse:
    case = await metrics(request).case(call_id)
    if case is None or not access.can_see_case(user, case):
        return refuse(request, user, 404, call_id)
    history = next((case[key] for key in ("history", "steps", "events") if key in case), None)
    if history is None:
        found = await metrics(request).first_available([f"/v1/cases/{call_id}/history", f"/v1/cases/{call_id}/events"])
        history = found.get("history", found.get("events")) if isinstance(found, dict) else found
    offered = access.agreed_steps(
        access.offered_steps(user, case), await intake(request).allowed_steps(user.api_key, call_id)
    )
    choices: Choices = request.app.state.catalogue_choices
    now = datetime.now(UTC)
    assignment = case.get("assignment") or {}
    return render(
        request,
        "case.html",
        status_code=status_code,
        user=user,
        case=case,
        assignment=assignment,
        steps=[s.value for s in offered],
        idempotency_key=uuid.uuid4().hex,
        history=history,
        departments=[u for u in choices.units if u.queue_id in set(choices.departments)],
        units=choices.units,
        category_paths=choices.category_paths,
        callback_results=[r.value for r in CallbackResult],
        refused=refused,
        done=request.query_params.get("done"),
        pending=step_pending(request.query_params.get("done"), history, [s.value for s in offered])
        or assignment_pending(request.query_params, case),
        cooperating=access.cooperating_units(case),
        my_role=access.role_in_queue(case, user.queue) if user.queue else None,
        resolution_left=views.seconds_until(assignment.get("resolution_due_at"), now),
        response_left=views.seconds_until(assignment.get("response_due_at"), now),
        duration=lambda s: views.duration(s, language(request)),
        overdue=is_overdue(case, now),
        assignable=access.assignable(user, case, users(request).operators_of(str(case.get("queue_id") or ""))),
    )


@router.post(
    "/cases/{call_id}/steps",
    response_model=None,
    openapi_extra=form_body(StepForm),
    responses=answers(
        303,
        400,
        401,
        403,
        404,
        409,
        413,
        415,
        422,
        503,
        s303="Taken: to the case page (…?done=kind); or not signed in.",
        s401="Intake did not know the user's API key (the page says so).",
        s403="A form from another origin (CSRF); or a step the user may not take on this case (the console's rule "
        "or intake's).",
        s503="Intake did not answer, or its broker did not acknowledge: the step is not taken; retry.",
    ),
)
async def take_step(call_id: str, request: Request) -> Response:
    """Post a step to intake as the user; a refusal shows intake's reason on the case page."""
    user = current_user(request)
    form = await form_of(request)
    case = await metrics(request).case(call_id)
    if case is None or not access.can_see_case(user, case):
        return refuse(request, user, 404, call_id)
    try:
        kind = CaseEventKind(form.get("kind", ""))
    except ValueError:
        return await show_case(request, user, call_id, refused=f"unknown step {form.get('kind')!r}", status_code=400)
    if kind not in access.offered_steps(user, case):
        reason = f"'{kind.value}' is not open to {user.name} on a '{case.get('status')}' case"
        return await show_case(request, user, call_id, refused=reason, status_code=403)
    unpicked = picker_problem(kind, form, request.app.state.catalogue_choices) or assignee_problem(
        request, user, case, kind, form
    )
    if unpicked:
        return await show_case(request, user, call_id, refused=unpicked, status_code=422)
    result = await intake(request).post_step(
        user.api_key, call_id, step_body(kind, form), idempotency_key=form.get("idempotency_key") or None
    )
    if not result.ok:
        reason = f"{result.status}: {result.detail}"
        return await show_case(request, user, call_id, refused=reason, status_code=result.status)
    follow = f"&assignee={quote(step_body(kind, form)['assignee'])}" if kind is CaseEventKind.assigned else ""
    return RedirectResponse(f"/cases/{call_id}?done={kind.value}{follow}", status_code=303)


def step_pending(done: str | None, history: Any, offered: list[str]) -> bool:
    """A step just submitted is not in the case's history yet (the metrics store applies it shortly); without
    a history, a step still offered was not applied yet."""
    if not done:
        return False
    if not isinstance(history, list):
        return done in offered
    return not any(isinstance(h, dict) and h.get("kind") == done for h in history)


def assignment_pending(query: Mapping[str, str], case: Mapping[str, Any]) -> bool:
    """An assignment just submitted (``?done=assigned&assignee=NAME``) the stored case does not show yet: a
    reassignment is a second ``assigned`` step in the history, so the name tells whether it was applied; a case
    taken back (``?done=unassigned``) still shows its handler."""
    if query.get("done") == CaseEventKind.unassigned.value:
        return bool(case.get("assignee"))
    wanted = query.get("assignee")
    return query.get("done") == CaseEventKind.assigned.value and bool(wanted) and case.get("assignee") != wanted


def picker_problem(kind: CaseEventKind, form: dict[str, str], choices: Choices) -> str | None:
    """Why a picked value is not one the pickers offer (an unknown category, unit or department), or None:
    refused here with the valid choices rather than forwarded."""
    if kind is CaseEventKind.reclassified:
        path = form.get("category_path", "").strip().strip("/")
        if path not in set(choices.category_paths):
            return f"unknown category {path!r}: pick one of the taxonomy (level 1, level 1/2 or level 1/2/3)"
    if kind is CaseEventKind.dispatched:
        queue_id = form.get("queue_id", "").strip()
        if queue_id not in choices.unit_ids():
            return f"unknown unit {queue_id!r}: pick a street/town, district or department by name"
    if kind is CaseEventKind.whistle and choices.departments:
        unknown = [d for d in departments_of(form) if d not in set(choices.departments)]
        if unknown or not departments_of(form):
            valid = ", ".join(QueueId.parse(d).unit_name for d in choices.departments)
            return f"not departments of the dispatch catalogue: {', '.join(unknown) or '(none)'}; valid departments: {valid}"
    return None


def assignee_problem(
    request: Request, user: User, case: dict[str, Any], kind: CaseEventKind, form: dict[str, str]
) -> str | None:
    """Why the named handler (承办人) is not one the page offers — an operator of the unit holding the case —, or
    None: intake takes any name, the console knows its users."""
    if kind is not CaseEventKind.assigned:
        return None
    name = form.get("assignee", "").strip()
    offered = access.assignable(user, case, users(request).operators_of(str(case.get("queue_id") or "")))
    if name not in offered:
        return f"{name!r} is not an operator of {case.get('queue_id')}: pick one of {', '.join(offered) or '(none)'}"
    return None


def departments_of(form: dict[str, str]) -> list[str]:
    return [d.strip() for d in form.get("departments", "").split(",") if d.strip()]


def step_body(kind: CaseEventKind, form: dict[str, str]) -> dict[str, Any]:
    """The JSON body of intake's ``POST /v1/cases/{call_id}/events`` for a step taken in the console."""
    body: dict[str, Any] = {"kind": kind.value}
    note = form.get("note", "").strip()
    if note:
        body["note"] = note
    if kind is CaseEventKind.whistle:
        body["departments"] = departments_of(form)
    if kind is CaseEventKind.callback:
        body["callback_result"] = form.get("callback_result") or None
    if kind is CaseEventKind.reclassified:
        levels = [*form.get("category_path", "").strip().strip("/").split("/"), None, None]
        body["classification"] = {"category": levels[0], "subcategory": levels[1] or None, "item": levels[2] or None}
    if kind is CaseEventKind.dispatched:
        body["queue_id"] = form.get("queue_id", "").strip()
    if kind is CaseEventKind.assigned:
        body["assignee"] = form.get("assignee", "").strip()
    return body
