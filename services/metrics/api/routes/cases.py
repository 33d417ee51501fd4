"""``/v1/cases/{call_id}``: one case with its history."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from services.metrics.api.deps import ReadsDep
from services.metrics.api.views import CaseView

router = APIRouter()


@router.get("/v1/cases/{call_id}")
async def get_case(call_id: str, reads: ReadsDep) -> CaseView:
    """One case by its call id (404 when unknown)."""
    case = await reads.get_case(call_id)
    if case is None:
        raise HTTPException(status_code=404, detail=f"no case {call_id}")
    return CaseView.model_validate(case)
