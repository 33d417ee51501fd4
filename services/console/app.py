"""The console's composition root: ``create_app(settings)`` wires the adapters (the users file, the
templates, the metrics and intake HTTP clients, the live feed) onto ``app.state`` and includes the pages."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pymongo.errors import PyMongoError

from services.common.limits import RequestLimits, form_only
from services.common.mongo import LazyDatabase
from services.common.observability import instrument_http
from services.console.clients import IntakeClient, MetricsClient
from services.console.live import LiveQueues
from services.console.reference import catalogue_choices
from services.console.routes import auth, cases, health, live, queues, scoreboard, search
from services.console.security import RevokedSessions, SignInGuard, SignInState, SignInStore
from services.console.settings import ConsoleSettings
from services.console.users import UserDirectory
from services.console.web import HERE, install_error_handlers, page_templates, refuse_cross_site

log = logging.getLogger(__name__)
PASSWORD_HASHES_AT_ONCE = 2  # scrypt runs in worker threads; more at once only queue for the two cores


def create_app(
    settings: ConsoleSettings,
    *,
    metrics_transport: httpx.AsyncBaseTransport | None = None,
    intake_transport: httpx.AsyncBaseTransport | None = None,
    signin_state: SignInState | None = None,
) -> FastAPI:
    """The console app for ``settings``; the transports replace the network to the upstreams, and
    ``signin_state`` the sign-in counts in MongoDB (tests without a database)."""
    database: LazyDatabase | None = None
    if signin_state is None:
        database = LazyDatabase(settings.mongodb, fail_fast=True)
        signin_state = SignInStore(database)
    state: SignInState = signin_state

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with upstreams(settings, metrics_transport, intake_transport) as (metrics, intake):
            app.state.metrics, app.state.intake = metrics, intake
            app.state.live = LiveQueues(metrics, settings.poll_seconds)
            await prepare_signin(state)
            try:
                yield
            finally:
                await app.state.live.stop()
                if database is not None:
                    await database.close()

    app = FastAPI(title="Hotline operator console", version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.session_secret = session_secret(settings)
    app.state.revoked_sessions = RevokedSessions(settings.revoked_sessions_file)
    app.state.signin_guard = signin_guard(settings, state)
    app.state.password_hashing = asyncio.Semaphore(PASSWORD_HASHES_AT_ONCE)
    app.middleware("http")(refuse_cross_site)
    app.add_middleware(
        RequestLimits,
        max_bytes=settings.max_request_bytes,
        setting="HOTLINE_CONSOLE_MAX_REQUEST_BYTES",
        types=form_only,
    )
    app.state.users = UserDirectory(settings.users_file)
    app.state.templates = page_templates()
    app.state.catalogue_choices = catalogue_choices(settings.catalogue_path)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    install_error_handlers(app)
    for routes in (health, auth, queues, cases, scoreboard, search, live):
        app.include_router(routes.router)
    instrument_http(app, "console")  # GET /metrics (docs/operations.md)
    return app


@asynccontextmanager
async def upstreams(
    settings: ConsoleSettings,
    metrics_transport: httpx.AsyncBaseTransport | None,
    intake_transport: httpx.AsyncBaseTransport | None,
) -> AsyncIterator[tuple[MetricsClient, IntakeClient]]:
    """The clients of the metrics read API (with the console's read key) and of intake, open while the app runs."""
    timeout = httpx.Timeout(settings.request_timeout_seconds)
    async with (
        httpx.AsyncClient(
            base_url=settings.metrics_url,
            timeout=timeout,
            transport=metrics_transport,
            headers={"X-API-Key": settings.metrics_api_key} if settings.metrics_api_key else None,
        ) as metrics,
        httpx.AsyncClient(base_url=settings.intake_url, timeout=timeout, transport=intake_transport) as intake,
    ):
        yield MetricsClient(metrics), IntakeClient(intake)


async def prepare_signin(state: SignInState) -> None:
    """The sign-in state's indexes; while the database does not answer, sign-in answers 503 (pages need none)."""
    try:
        await state.prepare()
    except PyMongoError as exc:
        log.warning("sign-in state not prepared (the database did not answer): %s", exc)


def session_secret(settings: ConsoleSettings) -> str:
    """The configured session secret, or a random one of this process (with a warning)."""
    if not settings.session_secret:
        log.warning(
            "HOTLINE_CONSOLE_SESSION_SECRET is not set: sessions are signed with a random secret of this process "
            "and end when it restarts (`hotline up` generates one per installation)"
        )
    return settings.session_secret or secrets.token_urlsafe(32)


def signin_guard(settings: ConsoleSettings, state: SignInState) -> SignInGuard:
    """The lockout and throttle of sign-ins, with the settings' limits, counting in ``state``."""
    return SignInGuard(
        state=state,
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
        lockout_seconds=settings.login_lockout_seconds,
        attempts_per_minute=settings.login_attempts_per_minute,
    )
