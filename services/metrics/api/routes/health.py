"""``/healthz`` (the process is alive) and ``/readyz`` (the database answers)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.metrics.api.deps import ReadsDep

router = APIRouter()

READY_TIMEOUT_SECONDS = 2.0
"""The longest ``/readyz`` waits for the database's answer before saying 503 (a probe must answer fast)."""


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses={503: {"description": "The database did not answer."}})
async def readyz(reads: ReadsDep) -> dict[str, str] | JSONResponse:
    """200 when the database answers a ping within 2 s; 503 otherwise."""
    try:
        await asyncio.wait_for(reads.ping(), READY_TIMEOUT_SECONDS)
    except Exception as exc:
        return JSONResponse(status_code=503, content={"status": "unavailable", "reason": type(exc).__name__})
    return {"status": "ready"}
