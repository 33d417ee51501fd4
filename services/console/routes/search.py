"""``/search``: a supervisor's search over the whole store (every queue, open and closed cases) by call id, phone
or words; words come newest first a page at a time, each page reading a bounded number of cases, with a link
to the older ones (the metrics read API's ``/v1/search`` without a queue: docs/metrics.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.console.openapi import SEARCH_QUERY, answers, query
from services.console.routes.queues import search_params
from services.console.web import current_user, metrics, refuse, render, settings_of

router = APIRouter()

SEARCH_SHOWN = 100
"""Cases one page of the whole-store search lists at most."""


@router.get(
    "/search",
    response_class=HTMLResponse,
    responses=answers(303, 403, s403="Only a supervisor searches every queue (an operator searches its queue)."),
    openapi_extra=query(**SEARCH_QUERY),
)
async def search_page(request: Request) -> HTMLResponse:
    """Every queue's cases by call id, phone or words; words newest first, a bounded page at a time."""
    user = current_user(request)
    if not user.is_supervisor:
        return refuse(request, user, 403, f"{user.name}: /search (every queue) is a supervisor's page")
    text = request.query_params.get("q", "").strip()[:200]
    before = request.query_params.get("before", "").strip()[:200]
    body: dict = {}
    if text:
        params = search_params({"q": text, "sort": "newest"}, None, settings_of(request).contact_salt, SEARCH_SHOWN)
        if before:
            params["before"] = before
        body = await metrics(request).get("/v1/search", params)
    return render(
        request,
        "search.html",
        user=user,
        text=text,
        before=before,
        cases=list(body.get("cases") or []),
        next_page=body.get("next"),
        looked_at=body.get("looked_at"),
        searched=bool(text),
    )
