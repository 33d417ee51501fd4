"""``/healthz`` (the process is alive) and ``/readyz`` (the database answers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.metrics.api.deps import ReadsDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(reads: ReadsDep) -> dict[str, str] | JSONResponse:
    """The database answers a ping."""
    try:
        await reads.ping()
    except Exception as exc:
        return JSONResponse(status_code=503, content={"status": "unavailable", "reason": type(exc).__name__})
    return {"status": "ready"}
