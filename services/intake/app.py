"""The intake's composition root: ``create_app(settings)`` wires the adapters (Kafka publisher, key file,
the ``cases`` collection, the dispatch catalogue) onto ``app.state`` and includes the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

from fastapi import FastAPI
from prometheus_fastapi_instrumentator.metrics import Info
from pymongo.asynchronous.database import AsyncDatabase

from services.common.limits import RequestLimits, json_under
from services.common.observability import count_call, instrument_http
from services.intake.case_store import StoredCallsLookup, connected_cases
from services.intake.open311.routes import router as open311_router
from services.intake.openapi import DESCRIPTION, TITLE, VERSION, openapi_with_call_batch
from services.intake.publisher import EventPublisher
from services.intake.routes import calls, cases, health, programme
from services.intake.routes.common import install_error_handlers
from services.intake.settings import IntakeSettings
from services.intake.submissions import RecentSubmissions
from shared.api_keys import KeyStore
from shared.cases import CaseReadModel
from shared.catalogue import DEFAULT_CATALOGUE_PATH
from shared.catalogue_watch import CatalogueWatcher

# The routes that take citizens' calls: their answers are counted in hotline_intake_calls_total.
CALL_ROUTES = frozenset({"/v1/calls", "/v1/calls/batch", "/open311/v2/requests.{fmt}"})


def count_calls(info: Info) -> None:
    """Count each call submitted as accepted (2xx) or rejected with its reason: a batch answered 2xx counts each
    of its items (``request.state.call_statuses``, set by the batch route), a request refused whole counts once."""
    if info.method != "POST" or info.modified_handler not in CALL_ROUTES:
        return
    answered = info.response.status_code if info.response is not None else 500
    items = getattr(info.request.state, "call_statuses", None)
    for status in items if items is not None and 200 <= answered < 300 else [answered]:
        count_call(status)


def use_cases(app: FastAPI, cases: CaseReadModel | None) -> None:
    """Read ``cases``: a step's case (``app.state.cases``) and, gathered across concurrent requests, the
    stored versions of submitted calls (``app.state.stored_calls``)."""
    app.state.cases = cases
    app.state.stored_calls = StoredCallsLookup(cases) if cases is not None else None


def create_app(
    settings: IntakeSettings, *, publisher: EventPublisher | None = None, database: AsyncDatabase | None = None
) -> FastAPI:
    """The intake app for ``settings``; the publisher connects (and keeps retrying) at start-up.
    ``database``: the case store to read instead of connecting to ``settings.mongodb`` (tests)."""
    the_publisher = publisher or EventPublisher(settings.kafka)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if database is None:
                use_cases(app, await stack.enter_async_context(connected_cases(settings.mongodb)))
            await the_publisher.start()
            stack.push_async_callback(the_publisher.stop)
            yield

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.publisher = the_publisher
    app.state.key_store = KeyStore(settings.api_keys_file)
    app.state.recent_submissions = RecentSubmissions()
    use_cases(app, CaseReadModel(database) if database is not None else None)
    app.state.catalogue = CatalogueWatcher(settings.catalogue_path or DEFAULT_CATALOGUE_PATH)
    install_error_handlers(app)
    app.add_middleware(
        RequestLimits,
        max_bytes=settings.max_request_bytes,
        setting="HOTLINE_INTAKE_MAX_REQUEST_BYTES",
        types=json_under("/v1/"),
    )
    for routes in (health, calls, cases, programme):
        app.include_router(routes.router)
    app.openapi = partial(openapi_with_call_batch, app)  # type: ignore[method-assign]
    app.include_router(open311_router)  # Open311 GeoReport v2 at /open311/v2/ (docs/open311.md)
    instrument_http(app, "intake", extra=[count_calls])  # GET /metrics (docs/operations.md)
    return app
