"""``/scoreboard``: 三率 and composite per unit, top ten streets, month on month, 每月一题, hot spots."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.console import views
from services.console.i18n import translator
from services.console.scoreboard import scoreboard_context
from services.console.web import current_user, language, metrics, render

router = APIRouter()


@router.get("/scoreboard", response_class=HTMLResponse)
async def scoreboard(request: Request) -> HTMLResponse:
    """三率 and composite per unit, top ten streets, month on month per problem, 每月一题, hot spots."""
    user = current_user(request)
    month = request.query_params.get("month") or views.local_time(datetime.now(UTC))[:7]
    lang = language(request)
    context = await scoreboard_context(metrics(request), month, translator(lang), lang)
    return render(request, "scoreboard.html", user=user, month=month, **context)
