"""``/v1/metrics/monthly``: a month's counts per category, 每月一题 problem, unit or district."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.metrics.api.deps import ReadsDep
from services.metrics.api.views import MonthlyCountView, MonthlyView
from shared.clock import MONTH_PATTERN

router = APIRouter()


@router.get("/v1/metrics/monthly")
async def monthly(
    reads: ReadsDep,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM in the city's time zone.")],
    dimension: Annotated[Literal["category", "issue", "unit", "district"], Query()] = "category",
) -> MonthlyView:
    """Cases dispatched in a month per category, Monthly-Question issue, unit or district."""
    counts = await reads.monthly_counts(month, dimension)
    return MonthlyView(
        month=month,
        dimension=dimension,
        total=sum(c.count for c in counts),
        counts=[MonthlyCountView(value=c.value, label=c.label, count=c.count) for c in counts],
    )
