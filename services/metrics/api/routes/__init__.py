"""The read API's routes, one module (an ``APIRouter``) per resource, included in this order by
``PUBLIC_ROUTERS`` (no key) and ``ROUTERS`` (a read key)."""

from __future__ import annotations

from fastapi import APIRouter

from services.metrics.api.routes import cases, figures, health, hotspots, page, programme, queues, scoreboard, stream

# Open to anyone: liveness/readiness and the queue page (which asks its reader for a key).
PUBLIC_ROUTERS: tuple[APIRouter, ...] = (health.router, page.router)
# Need an X-API-Key with a read scope (``services.metrics.api.deps.reader``).
ROUTERS: tuple[APIRouter, ...] = (
    queues.router,
    cases.router,
    figures.router,
    scoreboard.router,
    programme.router,
    hotspots.router,
    stream.router,
)
