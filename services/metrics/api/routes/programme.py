"""每月一题: ``/v1/problems/trend`` (each problem's monthly volume) and ``/v1/programme`` (items and progress)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.metrics.api.deps import Format, Month, ScoreboardDep, csv_response
from services.metrics.api.views import ProblemsTrendView, ProgrammeView

router = APIRouter()


@router.get("/v1/problems/trend", response_model=None, responses={200: {"model": ProblemsTrendView}})
async def problems_trend(
    board: ScoreboardDep,
    month: Month = None,
    problem: Annotated[str | None, Query(description="A 每月一题 problem id; default: every problem.")] = None,
    months: Annotated[int, Query(ge=2, le=36)] = 6,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """Each problem's monthly volume with its month-on-month change, and how many problems fell."""
    trend = await board.problem_trend(month or board.current_month(), problem, months)
    if format == "csv":
        return csv_response(trend["problems"], f"problems-{trend['month']}")
    return trend


@router.get("/v1/programme", response_model=None, responses={200: {"model": ProgrammeView}})
async def programme(board: ScoreboardDep, month: Month = None, format: Format = "json") -> dict[str, Any] | Response:
    """The 每月一题 programme: problems, tasks and policies with status, progress and volume trend."""
    view = await board.programme(month)
    if format == "csv":
        rows = [
            {"problem": p["id"], "kind": kind, **item}
            for p in view["problems"]
            for kind in ("tasks", "policies")
            for item in p[kind]
        ]
        return csv_response(rows, "programme")
    return view
