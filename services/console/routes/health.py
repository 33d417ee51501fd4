"""``/healthz`` (the process is alive) and ``/readyz`` (the metrics read API answers)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.console.web import metrics

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses={503: {"description": "The metrics read API did not answer."}})
async def readyz(request: Request) -> dict[str, str] | JSONResponse:
    """The metrics read API answers (the console shows nothing without it)."""
    body = await metrics(request).optional("/readyz")
    if body is None:
        return JSONResponse({"status": "unavailable", "reason": "metrics API not ready"}, status_code=503)
    return {"status": "ready"}
