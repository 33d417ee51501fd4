"""``/live/queues``: server-sent events carrying the queues the user may see, each time one changes."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.console import access
from services.console.live import LiveQueues
from services.console.openapi import answers
from services.console.web import current_user

router = APIRouter()


@router.get("/live/queues", responses=answers(401))
async def live_queues(request: Request) -> StreamingResponse:
    """Server-sent events: the queues the user may see, each time one changes."""
    user = current_user(request)
    live: LiveQueues = request.app.state.live

    async def events() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        async for queues in live.subscribe():
            if await request.is_disconnected():
                return
            if queues is None:
                yield ": ping\n\n"
                continue
            visible = access.visible_queues(user, queues)
            data = json.dumps({"queues": visible, "at": time.time()}, ensure_ascii=False, default=str)
            yield f"event: queues\ndata: {data}\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
