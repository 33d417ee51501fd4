"""``/v1/stream``: server-sent events whenever the queues or the scoreboard change (the console's live feed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.metrics.api.deps import ReaderDep, ReadsDep, ScoreboardDep
from services.metrics.api.routes.queues import queues_view

router = APIRouter()


@router.get("/v1/stream")
async def stream(
    request: Request,
    board: ScoreboardDep,
    reads: ReadsDep,
    reader: ReaderDep,
    interval: Annotated[float, Query(ge=0.2, le=60, description="Seconds between checks.")] = 1.0,
    max_events: Annotated[int | None, Query(ge=1, description="Stop after this many events.")] = None,
) -> StreamingResponse:
    """Server-sent events: `queues` and `scoreboard` whenever they change (the console's live feed)."""

    async def events() -> AsyncIterator[str]:
        last: dict[str, str] = {}
        sent = 0
        while True:
            month = board.current_month()
            snapshot = {
                "queues": (await queues_view(reads, reader)).model_dump_json(),
                "scoreboard": json.dumps(
                    {"month": month, "top": await board.top_streets(month)}, ensure_ascii=False, default=str
                ),
            }
            for name, data in snapshot.items():
                if last.get(name) != data:
                    last[name] = data
                    yield f"event: {name}\ndata: {data}\n\n"
                    sent += 1
                    if max_events is not None and sent >= max_events:
                        return
            if await request.is_disconnected():
                return
            await asyncio.sleep(interval)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
