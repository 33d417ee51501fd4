"""``/v1/hotspots``: hot spots (主动治理) the worker found, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.metrics.api.deps import Format, HotSpotsDep, csv_response
from services.metrics.api.views import HotSpotsView

router = APIRouter()


@router.get("/v1/hotspots", response_model=None, responses={200: {"model": HotSpotsView}})
async def hotspots(
    store: HotSpotsDep,
    area: Annotated[str | None, Query(description="district/street, e.g. 大兴区/西红门镇.")] = None,
    problem: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """Hot spots (主动治理): an area x problem well above its own baseline, newest first, with the figures."""
    found = [
        {k: v for k, v in doc.items() if k != "_id"}
        for doc in await store.newest_first(area=area, problem=problem, limit=limit)
    ]
    if format == "csv":
        return csv_response(found, "hotspots")
    return {"hot_spots": found}
