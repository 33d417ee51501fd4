"""Typed FastAPI dependencies of the intake: what the composition root put on ``app.state`` (settings,
publisher, case store, catalogue; the call routes' ``CallPath``) and the caller's API key with the scope a route needs.

Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
per dependency per request (there were six for ``POST /v1/calls``), which under 200 concurrent clients cost
more of intake's CPU than the call's own work (``hotline bench intake``, docs/performance.md). None of them
awaits anything: each is a few microseconds of work on the loop (the key check is one stat of the key file
and a SHA-256 per stored key). Even async, each dependency costs FastAPI ~40 µs a request, so the call
routes take what they need in one (``CallPath``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from services.intake.case_store import StoredCallsLookup
from services.intake.publisher import EventPublisher
from services.intake.settings import IntakeSettings
from services.intake.submissions import RecentSubmissions
from shared.api_keys import CALLS_WRITE, CASES_ACT, SUPERVISOR, KeyRecord, KeyStore
from shared.cases import CaseReadModel
from shared.catalogue_watch import CatalogueWatcher

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An intake API key created with `hotline keys --name NAME` (scope calls:write).",
)


async def app_settings(request: Request) -> IntakeSettings:
    return request.app.state.settings


async def app_publisher(request: Request) -> EventPublisher:
    return request.app.state.publisher


async def app_cases(request: Request) -> CaseReadModel | None:
    """The read model of the metrics-owned ``cases`` (``shared.cases``); None before the lifespan connected."""
    return request.app.state.cases


@dataclass(frozen=True, slots=True)
class CallPath:
    """What the call routes (``POST /v1/calls``, ``/v1/calls/batch``) use, as one dependency: each dependency
    costs FastAPI ~40 µs of CPU a request, and these run for every call."""

    settings: IntakeSettings
    publisher: EventPublisher
    stored_calls: StoredCallsLookup | None  # the stored versions of submitted calls; None before the lifespan connected
    recent: RecentSubmissions


async def call_path(request: Request) -> CallPath:
    state = request.app.state
    return CallPath(state.settings, state.publisher, state.stored_calls, state.recent_submissions)


async def app_catalogue(request: Request) -> CatalogueWatcher:
    """The dispatch catalogue (派单目录), re-read when its file changes."""
    return request.app.state.catalogue


SettingsDep = Annotated[IntakeSettings, Depends(app_settings)]
CatalogueDep = Annotated[CatalogueWatcher, Depends(app_catalogue)]
CasesDep = Annotated[CaseReadModel | None, Depends(app_cases)]
CallPathDep = Annotated[CallPath, Depends(call_path)]
PublisherDep = Annotated[EventPublisher, Depends(app_publisher)]


def verified_key(presented: str | None, request: Request) -> KeyRecord:
    """The record of the presented key (by the app's key store); 401 when it is missing or matches no key."""
    store: KeyStore = request.app.state.key_store
    if not presented:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "X-API-Key header is missing", headers={"WWW-Authenticate": "ApiKey"}
        )
    record = store.verify(presented)
    if record is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "X-API-Key is not a known key", headers={"WWW-Authenticate": "ApiKey"}
        )
    return record


async def authenticated_key(presented: Annotated[str | None, Security(api_key_header)], request: Request) -> KeyRecord:
    """The caller's key record; 401 when the X-API-Key header is missing or matches no key."""
    return verified_key(presented, request)


ApiKeyDep = Annotated[KeyRecord, Depends(authenticated_key)]


async def calls_writer(presented: Annotated[str | None, Security(api_key_header)], request: Request) -> KeyRecord:
    """The caller's key, which must carry the calls:write scope (403 otherwise; 401 as ``authenticated_key``).
    Checked in one dependency, not on top of ``authenticated_key``: it runs for every call."""
    key = verified_key(presented, request)
    if not key.allows(CALLS_WRITE):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"API key '{key.name}' lacks the scope {CALLS_WRITE} (it has: {', '.join(key.scopes) or 'none'})",
        )
    return key


CallsWriterDep = Annotated[KeyRecord, Depends(calls_writer)]


async def case_actor(key: ApiKeyDep) -> KeyRecord:
    """The caller's key, which must carry cases:act (for its units) or supervisor (403 otherwise)."""
    if not (key.allows(CASES_ACT) or key.allows(SUPERVISOR)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"API key '{key.name}' lacks the scope {CASES_ACT} or {SUPERVISOR} (it has: {', '.join(key.scopes) or 'none'})",
        )
    return key


CaseActorDep = Annotated[KeyRecord, Depends(case_actor)]
