"""``/scoreboard``: 三率 and composite per unit, top ten streets, month on month, 每月一题, hot spots."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.i18n import translator
from services.console.openapi import SCOREBOARD_QUERY, answers, query
from services.console.scoreboard import UNIT_KINDS, rates, scoreboard_context
from services.console.web import current_user, language, metrics, refuse, render, table_download
from shared.clock import MONTH_PATTERN, current_month

router = APIRouter()


BAD_MONTH = "Not a month YYYY-MM from 2000-01 to 2099-12."


def chosen_month(request: Request) -> tuple[str, str | None]:
    """The month asked for (this month by default), and why it is refused (or None)."""
    month = request.query_params.get("month") or current_month()
    if re.fullmatch(MONTH_PATTERN, month):
        return month, None
    return month, f"month must be YYYY-MM from 2000-01 to 2099-12, not {month[:40]!r}"


@router.get(
    "/scoreboard",
    response_class=HTMLResponse,
    responses=answers(303, 422, s422=BAD_MONTH),
    openapi_extra=query(**SCOREBOARD_QUERY),
)
async def scoreboard(request: Request) -> HTMLResponse:
    """三率 and composite per unit, top ten streets, month on month per problem, 每月一题, hot spots."""
    user = current_user(request)
    month, bad = chosen_month(request)
    if bad:
        return refuse(request, user, 422, bad)
    lang = language(request)
    by = request.query_params.get("map", "volume")
    unit = request.query_params.get("unit", "").strip()[:200] or None
    context = await scoreboard_context(metrics(request), month, translator(lang), lang, by, unit)
    return render(request, "scoreboard.html", user=user, month=month, **context)


@router.get(
    "/scoreboard.xlsx",
    response_model=None,
    responses=answers(303, 422, s422=BAD_MONTH),
    openapi_extra=query(month=SCOREBOARD_QUERY["month"]),
)
@router.get(
    "/scoreboard.csv",
    response_model=None,
    responses=answers(303, 422, s422=BAD_MONTH),
    openapi_extra=query(month=SCOREBOARD_QUERY["month"]),
)
async def scoreboard_csv(request: Request) -> Response:
    """The month's rates, composite and rank of every unit (streets/towns, departments, districts) as CSV, or
    as an Excel workbook at ``/scoreboard.xlsx``."""
    user = current_user(request)
    month, bad = chosen_month(request)
    if bad:
        return refuse(request, user, 422, bad)
    found = await rates(metrics(request), month) or {}
    rows = [
        {"month": month, "kind": kind, **{k: ("" if v is None else v) for k, v in unit.items()}}
        for kind in UNIT_KINDS
        for unit in found.get(kind, [])
    ]
    return table_download(rows, f"scoreboard-{month}", request.url.path.rsplit(".", 1)[-1])
