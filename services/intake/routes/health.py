"""``/healthz`` (the process is alive) and ``/readyz`` (the broker and the case store answer)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.intake.case_store import database_problem
from services.intake.deps import CasesDep, PublisherDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (says nothing about the broker)."""
    return {"status": "alive"}


@router.get("/readyz", responses={503: {"description": "Not connected to the broker."}})
async def readyz(publisher: PublisherDep, cases: CasesDep, settings: SettingsDep) -> JSONResponse:
    """200 only when the broker and the database answer; 503 otherwise."""
    broker_ready = await publisher.ready()
    database_error = await database_problem(cases)
    if broker_ready and database_error is None:
        return JSONResponse({"status": "ready", "broker": settings.kafka.bootstrap_servers, "database": "ok"})
    reasons = ((None if broker_ready else publisher.last_error or "broker not ready"), database_error)
    return JSONResponse(
        {
            "status": "not ready",
            "broker": settings.kafka.bootstrap_servers,
            "reason": "; ".join(r for r in reasons if r),
        },
        status_code=503,
        headers={"Retry-After": str(settings.retry_after_seconds)},
    )
