"""The read API's routes, one module (an ``APIRouter``) per resource, included in this order by ``ROUTERS``."""

from __future__ import annotations

from fastapi import APIRouter

from services.metrics.api.routes import cases, figures, health, hotspots, page, programme, queues, scoreboard, stream

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    queues.router,
    cases.router,
    figures.router,
    scoreboard.router,
    programme.router,
    hotspots.router,
    stream.router,
    page.router,
)
