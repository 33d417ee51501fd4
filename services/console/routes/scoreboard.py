"""``/scoreboard``: 三率 and composite per unit, top ten streets, month on month, 每月一题, hot spots."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.i18n import translator
from services.console.openapi import answers
from services.console.scoreboard import UNIT_KINDS, rates, scoreboard_context
from services.console.web import csv_download, current_user, language, metrics, render
from shared.clock import current_month

router = APIRouter()


@router.get("/scoreboard", response_class=HTMLResponse, responses=answers(303))
async def scoreboard(request: Request) -> HTMLResponse:
    """三率 and composite per unit, top ten streets, month on month per problem, 每月一题, hot spots."""
    user = current_user(request)
    month = request.query_params.get("month") or current_month()
    lang = language(request)
    by = request.query_params.get("map", "volume")
    context = await scoreboard_context(metrics(request), month, translator(lang), lang, by)
    return render(request, "scoreboard.html", user=user, month=month, **context)


@router.get("/scoreboard.csv", response_model=None, responses=answers(303))
async def scoreboard_csv(request: Request) -> Response:
    """The month's rates, composite and rank of every unit (streets/towns, departments, districts) as CSV."""
    current_user(request)
    month = request.query_params.get("month") or current_month()
    found = await rates(metrics(request), month) or {}
    rows = [
        {"month": month, "kind": kind, **{k: ("" if v is None else v) for k, v in unit.items()}}
        for kind in UNIT_KINDS
        for unit in found.get(kind, [])
    ]
    return csv_download(rows, f"scoreboard-{month}.csv")
