"""The read API's composition root: ``create_app`` wires the metrics stores and the routes.

Operators see every queue of 街乡镇 (streets/towns) and 委办局 (departments) with its depth and its
oldest waiting case; analysts read the monthly counts per category, Monthly-Question problem, unit
and district that the metrics worker pre-aggregates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import hotline_database, mongo_client
from services.common.observability import instrument_http, set_queue_gauges
from services.metrics.api.deps import reader
from services.metrics.api.routes import PUBLIC_ROUTERS, ROUTERS
from services.metrics.queries import Scoreboard
from services.metrics.settings import MetricsSettings
from services.metrics.store.base import MetricsDatabase
from services.metrics.store.hotspots import HotSpotStore
from services.metrics.store.outbox import Outbox
from services.metrics.store.programme import ProgrammeStore
from services.metrics.store.reads import MetricsReads
from shared.api_keys import KeyStore

DESCRIPTION = """\
Read API of the Hotline metrics store for 接诉即办 ("handle on receipt"): every citizen request is
dispatched (派单) to a queue of a street/town (街乡镇) or a department (委办局). This API shows each
queue's depth, overdue cases and oldest waiting case, the cases waiting in a queue, one case with its
history, the monthly counts per category, Monthly-Question (每月一题) problem, unit and district, and
the city's scoreboard: the three rates 响应率 / 解决率 / 满意率 and the composite score per unit with
the monthly ranking, the top ten streets by volume, municipal supervision (减量、提率、去低), the
每月一题 programme's progress and problem trends, and hot spots (主动治理). Figure endpoints take
`format=csv`. `GET /v1/stream` pushes queue and scoreboard changes (server-sent events). Definitions:
docs/metrics.md. `GET /` is a live queue page. Read-only: 每月一题 task and policy status updates
are events submitted through intake (`POST /v1/programme/...`), applied by the metrics worker.

Every `/v1/` endpoint needs an `X-API-Key` with a read scope: `cases:read` sees the key's units' queues
and the cases they lead or cooperate on (others answer 404), `read:all` (or `supervisor`) everything;
figures and the scoreboard hold no citizen's data and are open to every read key. Phone numbers and
e-mail addresses in the citizens' words are masked (docs/security.md).
"""


def create_app(settings: MetricsSettings, *, database: AsyncDatabase | None = None) -> FastAPI:
    """The read API; ``database`` injects an existing database (tests), else the lifespan connects."""

    def wire(app: FastAPI, db: AsyncDatabase) -> None:
        store = MetricsDatabase(db, timezone=settings.timezone)
        app.state.reads = MetricsReads(store)
        app.state.hotspots = HotSpotStore(store, Outbox(store))
        app.state.scoreboard = Scoreboard(app.state.reads, ProgrammeStore(store), settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if database is not None:
            yield
            return
        client = mongo_client(settings.mongodb)
        wire(app, hotline_database(client, settings.mongodb))
        try:
            yield
        finally:
            await client.close()

    app = FastAPI(
        title="Hotline metrics — 接诉即办 queues and monthly counts",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
    )
    if database is not None:
        wire(app, database)
    app.state.key_store = KeyStore(settings.api_keys_file)
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(reader)])

    async def refresh_queue_gauges() -> None:
        queues = await app.state.reads.queues()
        set_queue_gauges((q.queue_id, q.unit_kind, q.depth, q.overdue) for q in queues)

    instrument_http(app, "metrics-api", before_scrape=refresh_queue_gauges)  # GET /metrics (docs/operations.md)
    return app
