"""``/healthz`` (the process is alive) and ``/readyz`` (the broker answers: intake needs nothing else to accept calls)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.intake.deps import PublisherDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (says nothing about the broker)."""
    return {"status": "alive"}


@router.get("/readyz", responses={503: {"description": "Not connected to the broker."}})
async def readyz(publisher: PublisherDep, settings: SettingsDep) -> JSONResponse:
    """200 when the producer is connected and the broker answers; 503 with Retry-After otherwise.

    Only the broker: accepting calls needs nothing else. The database (read by case steps and Open311
    reads) is not asked: those routes answer 503 on their own while it is down (docs/operations.md).
    """
    if await publisher.ready():
        return JSONResponse({"status": "ready", "broker": settings.kafka.bootstrap_servers})
    return JSONResponse(
        {
            "status": "not ready",
            "broker": settings.kafka.bootstrap_servers,
            "reason": publisher.last_error or "broker not ready",
        },
        status_code=503,
        headers={"Retry-After": str(settings.retry_after_seconds)},
    )
