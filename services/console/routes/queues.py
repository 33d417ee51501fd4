"""The queues: every queue the user may see (``/queues``), one queue's waiting cases (``/queues/{id}``) with
search, filters and sort, the rows of its table (``/rows/{id}``, fetched again when the live feed says the
queue changed), bulk accept (``POST /bulk/{id}``) and the CSV or Excel export (``/export/{id}``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import access, views
from services.console.openapi import FORM_ANSWERS, QUEUE_FILTERS, BulkForm, answers, form_body, query
from services.console.reference import Choices
from services.console.users import User
from services.console.web import (
    EXPORT_FORMATS,
    current_user,
    form_of,
    intake,
    language,
    metrics,
    refuse,
    render,
    settings_of,
    table_download,
    users,
)
from shared.cases import is_overdue
from shared.contacts import MIN_PHONE_DIGITS, hash_contact, normalise_phone
from shared.events import CaseEventKind
from shared.masking import mask_contacts
from shared.queues import URGENT_PRIORITY
from shared.queues import is_urgent as urgent_priority

router = APIRouter()
NOT_YOURS = "Not the user's queue (an operator sees its own; a supervisor every queue)."
CASES_SHOWN = 200
EXPORT_LIMIT = 10_000
QUEUE_LISTING_MAX = 500  # the most the read API's queue listing gives at once; more goes through its search
SORTS = ("urgent", "oldest", "newest", "deadline")
FILTERS = ("q", "category", "status", "priority", "overdue", "district", "assignee", "sort")
MINE, UNASSIGNED = "@mine", "@none"  # the assignee filter's choices besides an operator's name
_PHONE = re.compile(r"\+?[\d\s\-()]+")


@router.get("/", status_code=303)
async def home() -> RedirectResponse:
    return RedirectResponse("/queues", status_code=303)


@router.get("/queues", response_class=HTMLResponse, responses=answers(303))
async def queues_page(request: Request) -> HTMLResponse:
    """Every queue the user may see, live."""
    user = current_user(request)
    queues = access.visible_queues(user, await metrics(request).queues())
    return render(request, "queues.html", user=user, queues=queues)


@router.get(
    "/queues/{queue_id:path}",
    response_class=HTMLResponse,
    responses=answers(303, 403, s403=NOT_YOURS),
    openapi_extra=query(**QUEUE_FILTERS),
)
async def queue_page(queue_id: str, request: Request) -> HTMLResponse:
    """One queue's waiting cases, urgent first then oldest (or as filtered and sorted), live."""
    user = current_user(request)
    if not access.can_see_queue(user, queue_id):
        return refuse(request, user, 403, f"{user.name}: {queue_id}")
    queue, matched, cases = await queue_and_cases(request, user, queue_id)
    choices: Choices = request.app.state.catalogue_choices
    operators = [operator.name for operator in users(request).operators_of(queue_id)]
    after = page_cursor(request.query_params)
    following = cases[-1] if cases and is_plain(request.query_params) else {}
    return render(
        request,
        "queue.html",
        operators=operators,
        load=load_rows(operators, await metrics(request).queue_load(queue_id)),
        mine=MINE if user.queue == queue_id else None,
        unassigned=UNASSIGNED,
        user=user,
        queue=queue,
        chosen={k: request.query_params.get(k, "") for k in FILTERS},
        query=request.url.query,
        categories=choices.category_paths,
        districts=choices.districts,
        statuses=["dispatched", "accepted", "responded", "returned"],
        sorts=SORTS,
        accepted=request.query_params.get("accepted"),
        not_accepted=request.query_params.get("not_accepted"),
        after=after,
        next_after=following.get("received_at") if len(cases) == CASES_SHOWN else None,
        next_after_id=following.get("call_id"),
        **case_rows(request, user, cases, queue, matched),
    )


@router.get(
    "/rows/{queue_id:path}",
    response_class=HTMLResponse,
    responses=answers(401, 403, s403=NOT_YOURS),
    openapi_extra=query(**QUEUE_FILTERS),
)
async def queue_rows(queue_id: str, request: Request) -> HTMLResponse:
    """The rows of a queue's case table (fetched by the page when the live feed says it changed)."""
    user = current_user(request)
    if not access.can_see_queue(user, queue_id):
        raise HTTPException(403, "not your queue")
    queue, matched, cases = await queue_and_cases(request, user, queue_id)
    return render(request, "queue_rows.html", user=user, queue=queue, **case_rows(request, user, cases, queue, matched))


def load_rows(operators: list[str], load: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The load panel (承办人): every operator of the unit with its open cases (0 when none), then anyone else
    still holding cases (a user since removed), and the unassigned ones; None when the read API has no load."""
    if load is None:
        return None
    counts = {str(entry["assignee"]): int(entry["open"]) for entry in load.get("assignees", [])}
    rows = [{"assignee": name, "open": counts.pop(name, 0), "operator": True} for name in operators]
    rows += [{"assignee": name, "open": count, "operator": False} for name, count in counts.items()]
    return {"rows": rows, "unassigned": int(load.get("unassigned", 0)), "open": int(load.get("open", 0))}


def search_params(
    query: Mapping[str, str], queue_id: str | None, salt: str, limit: int, *, me: str | None = None
) -> dict[str, Any]:
    """The metrics API's ``/v1/search`` parameters for the page's filters: a phone number in the search box
    is looked up by its salted hash (as intake stored it), a call id as such, anything else as words; without
    ``queue_id``, over the whole store."""
    sort = query.get("sort", "")
    params: dict[str, Any] = {"sort": sort if sort in SORTS else "urgent", "limit": limit}
    if queue_id is not None:
        params["queue_id"] = queue_id
    text = query.get("q", "").strip()
    digits = normalise_phone(text) if _PHONE.fullmatch(text) else ""
    if len(digits) >= MIN_PHONE_DIGITS:
        params["contact_hash"] = hash_contact(digits, salt)
    elif text:
        params["q"] = text
    for name in ("category", "status", "district"):
        if query.get(name):
            params[name] = query[name]
    if query.get("priority") == "urgent":
        params["priority"] = [URGENT_PRIORITY]
    elif query.get("priority") == "normal":
        params["priority"] = [p for p in range(1, 6) if p != URGENT_PRIORITY]
    if query.get("overdue") == "1":
        params["overdue"] = "true"
    assignee = query.get("assignee", "").strip()
    if assignee == UNASSIGNED:
        params["unassigned"] = "true"
    elif assignee:
        params["assignee"] = me if assignee == MINE and me else assignee
    return params


def is_plain(query: Mapping[str, str]) -> bool:
    """The plain listing (no filter; urgent first or oldest first), which the read API serves off its index."""
    return not any(query.get(name) for name in FILTERS if name != "sort") and query.get("sort", "urgent") in (
        "urgent",
        "oldest",
    )


def page_cursor(query: Mapping[str, str]) -> str | None:
    """The plain listing's keyset cursor (``after``: the last case's received time on the page before), when it
    is a time; later pages go on oldest first."""
    text = query.get("after", "").strip()
    if not text or not is_plain(query):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return None


async def queue_and_cases(
    request: Request, user: User, queue_id: str, limit: int = CASES_SHOWN
) -> tuple[dict[str, Any], int, list[dict]]:
    client = metrics(request)
    listed = access.visible_queues(user, await client.queues())
    queue = next((dict(q) for q in listed if q["queue_id"] == queue_id), None)
    queue = queue or access.empty_queue(queue_id, user.role)
    query = request.query_params
    if is_plain(query) and limit <= QUEUE_LISTING_MAX:
        # The plain page, the one kept open all day: the queue listing off its index, the queue's urgent cases
        # on top (the read API's order=urgent), 200 at a time: later pages by the keyset cursor ``after``.
        # Filters and other orders go through the search.
        after = page_cursor(query)
        order = "urgent" if query.get("sort", "urgent") == "urgent" and after is None else "oldest"
        after_id = query.get("after_id", "").strip() or None if after else None
        cases = await client.queue_cases(queue_id, limit=limit, order=order, after=after, after_id=after_id)
        matched = len(cases) if len(cases) < limit else max(len(cases), int(queue.get("depth") or 0))
        return queue, matched, cases
    params = search_params(query, queue_id, settings_of(request).contact_salt, limit, me=user.name)
    matched, cases = await client.search(params)
    return queue, matched, cases


def is_urgent(case: Mapping[str, Any]) -> bool:
    return urgent_priority((case.get("assignment") or {}).get("priority"))


def case_rows(request: Request, user: User, cases: list[dict], queue: dict[str, Any], matched: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    lang = language(request)
    rows = []
    for case in cases:
        received = views.parse_time(case.get("received_at"))
        left = views.seconds_until((case.get("assignment") or {}).get("resolution_due_at"), now)
        rows.append(
            {
                "case": case,
                "waiting": views.duration((now - received).total_seconds(), lang) if received else "—",
                "left": left,
                "left_text": "—" if left is None else views.duration(left, lang),
                "overdue": is_overdue(case, now),
                "role": access.role_in_queue(case, str(queue["queue_id"])),
                "urgent": is_urgent(case),
                "acceptable": CaseEventKind.accepted in access.offered_steps(user, case),
            }
        )
    return {
        "rows": rows,
        "matched": matched,
        "overdue_listed": sum(r["overdue"] for r in rows),
        "depth": queue.get("depth", 0),
        "lead_listed": sum(r["role"] == "lead" for r in rows),
        "cooperating_listed": sum(r["role"] == "cooperating" for r in rows),
        "urgent_listed": sum(r["urgent"] for r in rows),
    }


@router.post(
    "/bulk/{queue_id:path}",
    response_model=None,
    openapi_extra=form_body(BulkForm),
    responses=answers(
        303, *FORM_ANSWERS, s303="To the queue page, with how many were accepted and refused (or not signed in)."
    ),
)
async def bulk_accept(queue_id: str, request: Request) -> Response:
    """签收 every ticked case at once: each posted to intake as the user (each refusal counted, not fatal)."""
    user = current_user(request)
    if not access.can_see_queue(user, queue_id):
        return refuse(request, user, 403, f"{user.name}: {queue_id}")
    form = await form_of(request)
    batch = form.get("batch") or uuid.uuid4().hex
    accepted = refused = 0
    for call_id in dict.fromkeys(c.strip() for c in form.get("call_id", "").split(",") if c.strip()):
        case = await metrics(request).case(call_id)
        if case is None or CaseEventKind.accepted not in access.offered_steps(user, case):
            refused += 1
            continue
        result = await intake(request).post_step(
            user.api_key, call_id, {"kind": "accepted"}, idempotency_key=f"bulk-{batch}-{call_id}"
        )
        accepted, refused = (accepted + 1, refused) if result.ok else (accepted, refused + 1)
    return RedirectResponse(f"/queues/{queue_id}?accepted={accepted}&not_accepted={refused}", status_code=303)


@router.get(
    "/export/{queue_id:path}",
    response_model=None,
    responses=answers(303, 403, s403=NOT_YOURS),
    openapi_extra=query(
        **QUEUE_FILTERS,
        format={"type": "string", "enum": ["csv", "xlsx"], "description": "csv (default) or xlsx (Excel)."},
    ),
)
async def export_queue(queue_id: str, request: Request) -> Response:
    """The queue's cases as filtered on the page, as CSV (UTF-8 with BOM: Excel opens it) or an Excel workbook
    (``format=xlsx``), words masked."""
    user = current_user(request)
    if not access.can_see_queue(user, queue_id):
        return refuse(request, user, 403, f"{user.name}: {queue_id}")
    export_format = request.query_params.get("format") or "csv"
    if export_format not in EXPORT_FORMATS:
        return refuse(request, user, 422, f"format must be one of {', '.join(EXPORT_FORMATS)}, not {export_format!r}")
    queue, _, cases = await queue_and_cases(request, user, queue_id, limit=EXPORT_LIMIT)
    now = datetime.now(UTC)
    rows = [
        {
            "call_id": case["call_id"],
            "received_at": case.get("received_at"),
            "status": case.get("status"),
            "urgent": "1" if is_urgent(case) else "0",
            "priority": (case.get("assignment") or {}).get("priority"),
            "role": access.role_in_queue(case, queue_id),
            "category": views.category_path(case.get("classification") or {}),
            "district": case.get("district") or "",
            "street": (case.get("assignment") or {}).get("street") or "",
            "address": ((case.get("call") or {}).get("location") or {}).get("address") or "",
            "words": mask_contacts(
                " ".join(filter(None, [(case.get("call") or {}).get("subject"), (case.get("call") or {}).get("body")]))
            ),
            "response_due_at": (case.get("assignment") or {}).get("response_due_at") or "",
            "resolution_due_at": (case.get("assignment") or {}).get("resolution_due_at") or "",
            "overdue": "1" if is_overdue(case, now) else "0",
            "assignee": case.get("assignee") or "",
        }
        for case in cases
    ]
    name = re.sub(r"[^\w\-]+", "_", str(queue.get("queue_id", queue_id)))
    return table_download(rows, f"queue-{name}-{now:%Y%m%d-%H%M}", export_format)
