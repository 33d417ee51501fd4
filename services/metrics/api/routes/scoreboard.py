"""三率 scoreboard: ``/v1/scoreboard/units`` (rates, composite, rank), ``/v1/scoreboard/top``, ``/v1/supervision``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.metrics.api.deps import Format, Month, ScoreboardDep, csv_response
from services.metrics.api.views import SupervisionView, TopEntry, TopView, UnitScoreView, UnitsView

router = APIRouter()


@router.get("/v1/scoreboard", response_model=None, include_in_schema=False)
@router.get("/v1/scoreboard/units", response_model=None)
async def scoreboard_units(
    board: ScoreboardDep,
    month: Month = None,
    kind: Annotated[Literal["street", "department", "district"], Query()] = "street",
    district: Annotated[str | None, Query(description="Only units of this district, e.g. 大兴区.")] = None,
    format: Format = "json",
) -> UnitsView | Response:
    """Every unit's 响应率, 解决率, 满意率 and composite score in a month, ranked (1 = best)."""
    month = month or board.current_month()
    scores = await board.units(month, kind, district)
    views = [UnitScoreView(**score.__dict__) for score in scores]
    if format == "csv":
        rows = [{**v.model_dump(exclude={"counts"}), **v.counts} for v in views]
        return csv_response(rows, f"scoreboard-{kind}-{month}")
    weights = board.weights
    return UnitsView(
        month=month,
        kind=kind,
        weights={
            "response": weights.response,
            "resolution": weights.resolution,
            "satisfaction": weights.satisfaction,
            "basic_satisfaction_factor": weights.basic_satisfaction_factor,
        },
        units=views,
    )


@router.get("/v1/top-ten", response_model=None, include_in_schema=False)
@router.get("/v1/scoreboard/top", response_model=None)
async def scoreboard_top(
    board: ScoreboardDep,
    month: Month = None,
    n: Annotated[int, Query(ge=1, le=100)] = 10,
    format: Format = "json",
) -> TopView | Response:
    """The streets/towns with the most requests in a month (the top ten go under municipal supervision)."""
    month = month or board.current_month()
    top = await board.top_streets(month, n)
    if format == "csv":
        return csv_response(top, f"top-{month}")
    return TopView(month=month, streets=[TopEntry(**entry) for entry in top])


@router.get("/v1/supervision", response_model=None)
async def supervision_view(
    board: ScoreboardDep, month: Month = None, format: Format = "json"
) -> SupervisionView | Response:
    """减量、提率、去低: which streets/towns enter municipal supervision and which may leave it, with evidence."""
    month = month or board.current_month()
    streets = await board.supervision(month)
    if format == "csv":
        rows = [
            {"unit_id": s["unit_id"], "label": s["label"], "status": s["status"], **e}
            for s in streets
            for e in s["evidence"]
        ]
        return csv_response(rows, f"supervision-{month}")
    criteria = board.criteria
    return SupervisionView(month=month, criteria=dict(criteria.__dict__), streets=streets)
