"""The queues: every queue the user may see (``/queues``), one queue's waiting cases (``/queues/{id}``)
and the rows of its table (``/rows/{id}``, fetched again when the live feed says the queue changed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.console import access, views
from services.console.users import User
from services.console.web import current_user, language, metrics, refuse, render
from shared.cases import is_overdue

router = APIRouter()
CASES_SHOWN = 200


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/queues", status_code=303)


@router.get("/queues", response_class=HTMLResponse)
async def queues_page(request: Request) -> HTMLResponse:
    """Every queue the user may see, live."""
    user = current_user(request)
    queues = access.visible_queues(user, await metrics(request).queues())
    return render(request, "queues.html", user=user, queues=queues)


@router.get("/queues/{queue_id:path}", response_class=HTMLResponse)
async def queue_page(queue_id: str, request: Request) -> HTMLResponse:
    """One queue's waiting cases, oldest first, live."""
    user = current_user(request)
    if not access.can_see_queue(user, queue_id):
        return refuse(request, user, 403, f"{user.name}: {queue_id}")
    queue, cases = await queue_and_cases(request, user, queue_id)
    return render(request, "queue.html", user=user, queue=queue, **case_rows(request, cases, queue))


@router.get("/rows/{queue_id:path}", response_class=HTMLResponse)
async def queue_rows(queue_id: str, request: Request) -> HTMLResponse:
    """The rows of a queue's case table (fetched by the page when the live feed says it changed)."""
    user = current_user(request)
    if not access.can_see_queue(user, queue_id):
        raise HTTPException(403, "not your queue")
    queue, cases = await queue_and_cases(request, user, queue_id)
    return render(request, "queue_rows.html", user=user, queue=queue, **case_rows(request, cases, queue))


async def queue_and_cases(request: Request, user: User, queue_id: str) -> tuple[dict[str, Any], list[dict]]:
    client = metrics(request)
    listed = access.visible_queues(user, await client.queues())
    queue = next((dict(q) for q in listed if q["queue_id"] == queue_id), None)
    queue = queue or access.empty_queue(queue_id, user.role)
    cases = await client.queue_cases(queue_id, limit=CASES_SHOWN)
    return queue, cases


def case_rows(request: Request, cases: list[dict], queue: dict[str, Any]) -> dict[str, Any]:
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
            }
        )
    return {
        "rows": rows,
        "overdue_listed": sum(r["overdue"] for r in rows),
        "depth": queue.get("depth", 0),
        "lead_listed": sum(r["role"] == "lead" for r in rows),
        "cooperating_listed": sum(r["role"] == "cooperating" for r in rows),
    }
