"""``/scoreboard``: 三率 and composite per unit, top ten streets, month on month, 每月一题, hot spots."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.console.i18n import translator
from services.console.scoreboard import scoreboard_context
from services.console.web import current_user, language, metrics, render
from shared.clock import current_month

router = APIRouter()


@router.get("/scoreboard", response_class=HTMLResponse)
async def scoreboard(request: Request) -> HTMLResponse:
    """三率 and composite per unit, top ten streets, month on month per problem, 每月一题, hot spots."""
    user = current_user(request)
    month = request.query_params.get("month") or current_month()
    lang = language(request)
    context = await scoreboard_context(metrics(request), month, translator(lang), lang)
    return render(request, "scoreboard.html", user=user, month=month, **context)
