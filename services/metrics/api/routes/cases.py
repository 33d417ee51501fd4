"""``/v1/cases``: cases by id or by receipt time, status and classification; ``/v1/cases/{call_id}``: one case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from services.metrics.api.deps import ReadsDep
from services.metrics.api.views import CaseListView, CaseView

router = APIRouter()


@router.get("/v1/cases")
async def find_cases(
    reads: ReadsDep,
    call_id: Annotated[list[str], Query(description="Case ids (repeat); the other filters are then ignored.")] = [],  # noqa: B006
    received_from: Annotated[datetime | None, Query(description="Received at or after (ISO 8601).")] = None,
    received_to: Annotated[datetime | None, Query(description="Received at or before (ISO 8601).")] = None,
    status: Annotated[list[str], Query(description="Lifecycle statuses (repeat), e.g. closed.")] = [],  # noqa: B006
    category: Annotated[
        list[str], Query(description="Level-1 or level1/level2 category (repeat); OR-ed with issue.")
    ] = [],  # noqa: B006
    issue: Annotated[list[str], Query(description="每月一题 problem ids (repeat).")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> CaseListView:
    """Cases by id, or by time of receipt, status and classification, newest first (Open311 reads these)."""
    cases = await reads.find_cases(
        call_ids=call_id,
        received_from=received_from,
        received_to=received_to,
        statuses=status,
        categories=category,
        issues=issue,
        limit=limit,
    )
    return CaseListView(cases=[CaseView.model_validate(case) for case in cases])


@router.get("/v1/cases/{call_id}")
async def get_case(call_id: str, reads: ReadsDep) -> CaseView:
    """One case by its call id (404 when unknown)."""
    case = await reads.get_case(call_id)
    if case is None:
        raise HTTPException(status_code=404, detail=f"no case {call_id}")
    return CaseView.model_validate(case)
