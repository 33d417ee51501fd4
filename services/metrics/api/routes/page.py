"""``GET /``: the live queue page (``static/queue_page.html``, which polls ``/v1/queues`` every 2 s)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()

QUEUE_PAGE_FILE = Path(__file__).resolve().parents[1] / "static" / "queue_page.html"


@cache
def queue_page_html() -> str:
    """The page, read from its file once."""
    return QUEUE_PAGE_FILE.read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
async def queue_page() -> HTMLResponse:
    """The live queue page (refreshes itself every 2 s)."""
    return HTMLResponse(queue_page_html())
