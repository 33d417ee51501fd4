"""Open311 GeoReport v2 at ``/open311/v2/`` on intake's port: the service list and definitions, filing a
request into the same pipeline as ``POST /v1/calls``, and following requests through the case store.

Size: ~540 lines — the standard's calls (services, service definition, requests POST/GET, one request,
tokens) in both formats, each with its documented errors; the formats and the mapping already live beside it.

Where each call reads from (docs/open311.md):
- ``services``, ``services/{code}``: the shipped taxonomy, 每月一题 programme and dispatch catalogue files;
- ``POST requests``: nothing; it publishes the same ``CallReceived`` event as ``/v1/calls`` to Kafka;
- ``requests``, ``requests/{id}``, ``tokens/{token}``: the case store, through the metrics service's HTTP
  read API (``IntakeSettings.metrics_url``): the metrics service owns the ``cases`` collection.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qsl

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from services.common.logs import call_fields
from services.intake import domain
from services.intake.open311 import formats
from services.intake.open311.formats import Format, Open311Error
from services.intake.open311.mapping import (
    Attribute,
    Service,
    ServiceCatalogue,
    case_statuses,
    load_divisions,
    request_view,
    service_catalogue,
)
from services.intake.routes.common import publish_or_refuse
from services.intake.schemas import ErrorBody, has_control_characters
from services.intake.settings import IntakeSettings
from shared.api_keys import CALLS_WRITE, KeyRecord
from shared.events import CallReceived, Channel, Contact, Location, RequestedService

log = logging.getLogger(__name__)

BASE = "/open311/v2"
MAX_DESCRIPTION = 4000
MAX_DAYS = 90
MAX_REQUESTS = 1000
MAX_IDS = 1000
_W3_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STORE_DOWN = "the case store is unavailable; retry in a moment"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One HTTP client to the metrics read API for the process's life."""
    yield
    client = getattr(app.state, "open311_metrics", None)
    if client is not None:
        await client.aclose()


router = APIRouter(
    prefix=BASE,
    tags=["open311"],
    lifespan=lifespan,
    responses={
        400: {"description": "Open311 error list: a missing or invalid field, or the case store did not answer."},
        403: {"description": "Open311 error list: api_key missing, unknown or without calls:write (POST)."},
        404: {"description": "Open311 error list: an unknown format, service_code, request or token."},
        413: {"model": ErrorBody, "description": "The body is larger than max_request_bytes (refused before parsing)."},
    },
)


# ---- plumbing -----------------------------------------------------------------------------------------


def _settings(request: Request) -> IntakeSettings:
    return cast(IntakeSettings, request.app.state.settings)


def _services(request: Request) -> ServiceCatalogue:
    """The services as of intake's dispatch catalogue now (its watcher reloads an edited file)."""
    return service_catalogue(request.app.state.catalogue.current())


def _fmt(fmt: str) -> Format:
    if fmt not in formats.FORMATS:
        raise Open311Error(404, f"format '{fmt}' is not served: use .json or .xml")
    return cast(Format, fmt)


def _metrics(request: Request) -> httpx.AsyncClient:
    client = getattr(request.app.state, "open311_metrics", None)
    if client is None:
        settings = _settings(request)
        key = {"X-API-Key": settings.metrics_api_key} if settings.metrics_api_key else None
        client = httpx.AsyncClient(base_url=settings.metrics_url, timeout=10, headers=key)
        request.app.state.open311_metrics = client
    return cast(httpx.AsyncClient, client)


def _retry_after(request: Request) -> dict[str, str]:
    return {"Retry-After": str(_settings(request).retry_after_seconds)}


async def _answer(fmt: str, produce: Any) -> Response:
    """Run ``produce(format)``; an Open311Error becomes the standard's error answer in the asked format."""
    chosen: Format = fmt if fmt in formats.FORMATS else "json"  # type: ignore[assignment]
    try:
        return cast(Response, await produce(_fmt(fmt)))
    except Open311Error as error:
        return formats.error_response(chosen, error)


async def _read_cases(request: Request, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    try:
        response = await _metrics(request).get("/v1/cases", params=tuple(params))
    except httpx.HTTPError as exc:
        log.warning("open311: metrics API unreachable: %s", exc)
        raise Open311Error(400, STORE_DOWN, headers=_retry_after(request)) from exc
    if response.status_code != 200:
        log.warning("open311: metrics API answered %s: %s", response.status_code, response.text[:300])
        raise Open311Error(400, STORE_DOWN, headers=_retry_after(request))
    return list(response.json()["cases"])


# ---- services -----------------------------------------------------------------------------------------


@router.get("/services.{fmt}", summary="GET Service List")
async def services_list(fmt: str, request: Request) -> Response:
    """Every service: level-1 (NN) and level-2 (NN-MM) categories of the taxonomy and 每月一题 problems (mq-…)."""

    async def produce(f: Format) -> Response:
        kind = _settings(request).open311_service_type
        return formats.services_response(f, _services(request).services, kind)

    return await _answer(fmt, produce)


@router.get("/services/{service_code}.{fmt}", summary="GET Service Definition")
async def service_definition(service_code: str, fmt: str, request: Request) -> Response:
    """A service's attributes (its extra questions); 404 for an unknown service code."""

    async def produce(f: Format) -> Response:
        service = _services(request).get(service_code)
        if service is None:
            raise Open311Error(404, f"service_code '{service_code}' not found (see services.{f})")
        return formats.definition_response(f, service)

    return await _answer(fmt, produce)


# ---- filing a request ---------------------------------------------------------------------------------


def _form(raw: bytes) -> dict[str, list[str]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Open311Error(400, "the form must be UTF-8 (application/x-www-form-urlencoded; charset=utf-8)") from exc
    fields: dict[str, list[str]] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(name, []).append(value)
    return fields


def _one(fields: Mapping[str, list[str]], name: str) -> str | None:
    """A single-valued field, stripped; empty counts as not given (the standard's "optional")."""
    values = [v.strip() for v in fields.get(name, []) if v.strip()]
    if len(values) > 1:
        raise Open311Error(400, f"{name} was given {len(values)} times; give it once")
    return values[0] if values else None


def _key(request: Request, fields: Mapping[str, list[str]]) -> KeyRecord:
    presented = _one(fields, "api_key") or request.query_params.get("api_key")
    if not presented:
        raise Open311Error(403, "api_key is missing: POST requests needs an intake key with the calls:write scope")
    record = request.app.state.key_store.verify(presented)
    if record is None:
        raise Open311Error(403, "Invalid api_key received - can't proceed with create_request")
    if not record.allows(CALLS_WRITE):
        raise Open311Error(403, f"api_key '{record.name}' lacks the scope {CALLS_WRITE}")
    return cast(KeyRecord, record)


def _number(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a number, not '{text}'") from exc
    if not low <= value <= high:
        raise Open311Error(400, f"{name} must be between {low:g} and {high:g}")
    return value


def location_from(fields: Mapping[str, list[str]]) -> Location:
    """The request's place from lat & long, address_string or address_id (a division code); 400 if none."""
    lat, lon = _one(fields, "lat"), _one(fields, "long")
    address, address_id = _one(fields, "address_string"), _one(fields, "address_id")
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long must be sent together")
    if lat is None and address is None and address_id is None:
        raise Open311Error(400, "a location is required: lat & long, address_string or address_id")
    district = street = None
    if address_id is not None:
        place = load_divisions()[0].get(address_id)
        if place is None:
            raise Open311Error(400, f"address_id '{address_id}' is not a district or street/town division code")
        district, street = place
    if address is not None and len(address) > 500:
        raise Open311Error(400, "address_string is longer than 500 characters")
    return Location(
        address=address,
        district=district,
        street=street,
        lat=_number("lat", lat, -90, 90) if lat is not None else None,
        lon=_number("long", lon, -180, 180) if lon is not None else None,
    )


def _attribute_answers(fields: Mapping[str, list[str]]) -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}
    for name, values in fields.items():
        found = _ATTRIBUTE.match(name)
        if found:
            answers.setdefault(found.group(1), []).extend(v.strip() for v in values if v.strip())
    return {code: values for code, values in answers.items() if values}


def attribute_problems(service: Service, answers: Mapping[str, list[str]]) -> list[str]:
    """What is wrong with the answers to the service's attributes (required, datatype, list values)."""
    known: dict[str, Attribute] = {a.code: a for a in service.attributes}
    problems = [
        f"attribute[{code}] is not an attribute of service {service.code}" for code in answers if code not in known
    ]
    for attribute in service.attributes:
        values = answers.get(attribute.code, [])
        label = f"attribute[{attribute.code}]"
        if not values:
            if attribute.required:
                problems.append(f"{label} is required: {attribute.description}")
            continue
        keys = {key for key, _ in attribute.values}
        if attribute.datatype != "multivaluelist" and len(values) > 1:
            problems.append(f"{label} takes one value")
        elif attribute.datatype in ("singlevaluelist", "multivaluelist") and not set(values) <= keys:
            problems.append(f"{label}: {sorted(set(values) - keys)} not among its values")
        elif attribute.datatype == "number" and not _is_number(values[0]):
            problems.append(f"{label} must be a number")
        elif attribute.datatype == "datetime" and not _is_iso_date(values[0]):
            problems.append(f"{label} must be an ISO 8601 date or datetime")
        elif attribute.datatype == "string" and ("\n" in values[0] or len(values[0]) > 200):
            problems.append(f"{label} must be one line of at most 200 characters")
        elif len(values[0]) > MAX_DESCRIPTION:
            problems.append(f"{label} is longer than {MAX_DESCRIPTION} characters")
    return problems


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_iso_date(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def contact_from(fields: Mapping[str, list[str]], salt: str) -> Contact | None:
    """The citizen's phone (preferred) or e-mail, hashed and masked like every contact; never kept plain."""
    phone, email = _one(fields, "phone"), _one(fields, "email")
    if phone is not None:
        digits = domain.normalise_phone(phone)
        if not domain.MIN_PHONE_DIGITS <= len(digits) <= domain.MAX_PHONE_DIGITS:
            raise Open311Error(400, "phone must have 5 to 15 digits")
        return domain.contact_from_phone(phone, salt)
    if email is not None:
        if not _EMAIL.match(email) or len(email) > 254:
            raise Open311Error(400, "email is not an e-mail address")
        name, _, host = email.lower().partition("@")
        return Contact(hash=domain.hash_contact(email.lower(), salt), masked=f"{name[:1]}***@{host}")
    return None


def external_id_of(fields: Mapping[str, list[str]]) -> str:
    """The request's identity for idempotency: a digest of every field but the api_key, so a resubmitted
    form is the same call (same call_id and event id) and every consumer ignores the repeat."""
    canonical = sorted((k, tuple(v)) for k, v in fields.items() if k != "api_key")
    return hashlib.sha256(repr(canonical).encode("utf-8")).hexdigest()[:40]


def build_event(
    fields: Mapping[str, list[str]], key: KeyRecord, services: ServiceCatalogue, settings: IntakeSettings
) -> tuple[CallReceived, Service]:
    """The CallReceived event of a checked Open311 form (400/404 for what is wrong with it)."""
    controls = [
        f"{name} must not contain NUL or control characters (tab and line breaks are allowed)"
        for name, values in fields.items()
        if any(has_control_characters(value) for value in values)
    ]
    if controls:  # as /v1/calls refuses them; XML 1.0 could not carry them back in an answer either
        raise Open311Error(400, *controls)
    code = _one(fields, "service_code")
    if code is None:
        raise Open311Error(400, "service_code was not provided (see services.json)")
    service = services.get(code)
    if service is None:
        raise Open311Error(404, f"service_code '{code}' not found (see services.json)")
    location = location_from(fields)
    description = _one(fields, "description")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is longer than {MAX_DESCRIPTION} characters")
    answers = _attribute_answers(fields)
    problems = attribute_problems(service, answers)
    if problems:
        raise Open311Error(400, *problems)
    media_url = _one(fields, "media_url")
    if media_url is not None and (not media_url.startswith(("http://", "https://")) or len(media_url) > 2000):
        raise Open311Error(400, "media_url must be an http(s) URL of at most 2000 characters")
    contact = contact_from(fields, settings.contact_salt)
    items = answers.get("item") if service.subcategory and not service.issue else None
    item = items[0] if items else None
    requested = RequestedService(
        code=service.code,
        category=service.category,
        subcategory=service.subcategory,
        item=item,
        issue=service.issue,
        attributes=answers,
    )
    now = datetime.now(UTC)
    event = domain.call_received(
        channel=Channel.open311,
        source_system=f"open311:{key.name}",
        external_id=external_id_of(fields),
        subject=None,
        body=description or service.name,
        language=None,
        location=location,
        contact_phone=None,
        received_at=None,
        contact_salt=settings.contact_salt,
        now=now,
    )
    call = event.call.model_copy(update={"contact": contact, "requested": requested, "media_url": media_url})
    return event.model_copy(update={"call": call}), service


@router.post("/requests.{fmt}", summary="POST Service Request")
async def post_request(fmt: str, request: Request) -> Response:
    """File a request (form-encoded, api_key required): the same CallReceived event as POST /v1/calls."""

    async def produce(f: Format) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise Open311Error(400, "send the request as application/x-www-form-urlencoded; charset=utf-8")
        fields = _form(await request.body())
        key = _key(request, fields)
        settings = _settings(request)
        event, service = build_event(fields, key, _services(request), settings)
        if len(event.call.body) > settings.max_text_chars:
            raise Open311Error(400, f"description is longer than {settings.max_text_chars} characters")
        await publish_or_refuse(
            request.app.state.publisher,
            [event],
            what=f"open311 request {event.call_id}",
            refusal=lambda exc: Open311Error(
                400,
                "the request was not accepted (the event bus did not acknowledge it); retry",
                headers=_retry_after(request),
            ),
        )
        log.info(
            "open311 request %s (%s) from %s",
            event.call_id,
            service.code,
            key.name,
            extra=call_fields(event.call_id, event.event_id),
        )
        identity = (
            {"token": event.call_id.hex}
            if settings.open311_service_type == "batch"
            else {"service_request_id": str(event.call_id)}
        )
        answer = {
            **identity,
            "service_notice": f"已受理 · Accepted: {service.name}. 接诉即办：派单后在时限内响应与办结 · "
            "dispatched at once, answered and resolved within the hotline's deadlines",
            "account_id": _one(fields, "account_id"),
        }
        return formats.requests_response(f, [answer])

    return await _answer(fmt, produce)


# ---- following requests -------------------------------------------------------------------------------


def _w3_date(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    if not _W3_DATETIME.match(text):
        raise Open311Error(400, f"{name} must be a W3C datetime with a time zone, e.g. 2010-01-01T00:00:00Z")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name} '{text}' is not a valid date and time") from exc


def _list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def date_range(start_text: str | None, end_text: str | None, now: datetime) -> tuple[datetime, datetime]:
    """start_date/end_date per the standard: default the most recent 90 days; never a span of more than 90."""
    start, end = _w3_date("start_date", start_text), _w3_date("end_date", end_text)
    span = timedelta(days=MAX_DAYS)
    if start is None and end is None:
        return now - span, now
    if start is None:
        assert end is not None
        return end - span, end
    if end is None:
        return start, start + span
    if start > end:
        raise Open311Error(400, "start_date is after end_date")
    if end - start > span:
        raise Open311Error(400, f"start_date to end_date may not span more than {MAX_DAYS} days")
    return start, end


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@router.get("/requests.{fmt}", summary="GET Service Requests")
async def list_requests(fmt: str, request: Request) -> Response:
    """Requests by id (comma list; overrides the rest), or by service_code, start/end date and status:
    the most recent 90 days by default, 1,000 at most, newest first."""

    async def produce(f: Format) -> Response:
        query = request.query_params
        services = _services(request)
        ids = _list(query.get("service_request_id"))
        if ids:
            if len(ids) > MAX_IDS:
                raise Open311Error(400, f"at most {MAX_IDS} service_request_id values at once")
            known = [str(u) for i in ids if (u := _uuid(i)) is not None]
            cases = await _read_cases(request, [("call_id", i) for i in known]) if known else []
            return formats.requests_response(f, [request_view(c, services) for c in cases])
        start, end = date_range(query.get("start_date"), query.get("end_date"), datetime.now(UTC))
        statuses = _list(query.get("status"))
        if not set(statuses) <= {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed or both (comma-separated)")
        codes = _list(query.get("service_code"))
        unknown = [c for c in codes if services.get(c) is None]
        if unknown:
            raise Open311Error(404, *(f"service_code '{c}' not found" for c in unknown))
        params: list[tuple[str, str]] = [
            ("received_from", start.isoformat()),
            ("received_to", end.isoformat()),
            ("limit", str(MAX_REQUESTS)),
        ]
        if len(set(statuses)) == 1:  # open and closed together are every status: no filter
            params += [("status", s) for s in case_statuses(statuses[0])]
        for code in codes:
            service = services.by_code[code]
            if service.issue:
                params.append(("issue", service.issue))
            else:
                params.append(
                    (
                        "category",
                        f"{service.category}/{service.subcategory}" if service.subcategory else service.category,
                    )
                )
        views = [request_view(c, services) for c in await _read_cases(request, params)]
        if codes:
            views = [v for v in views if v["service_code"] in codes]
        return formats.requests_response(f, views)

    return await _answer(fmt, produce)


async def _case(request: Request, call_id: uuid.UUID | None) -> dict[str, Any] | None:
    if call_id is None:
        return None
    try:
        response = await _metrics(request).get(f"/v1/cases/{call_id}")
    except httpx.HTTPError as exc:
        raise Open311Error(400, STORE_DOWN, headers=_retry_after(request)) from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise Open311Error(400, STORE_DOWN, headers=_retry_after(request))
    return dict(response.json())


@router.get("/requests/{service_request_id}.{fmt}", summary="GET Service Request")
async def get_request(service_request_id: str, fmt: str, request: Request) -> Response:
    """One request; 404 when unknown (a request filed a moment ago is stored once classified and routed)."""

    async def produce(f: Format) -> Response:
        case = await _case(request, _uuid(service_request_id))
        if case is None:
            raise Open311Error(
                404,
                f"service_request_id '{service_request_id}' not found (a request filed a moment ago appears "
                "once it is classified and dispatched: retry shortly)",
            )
        return formats.requests_response(f, [request_view(case, _services(request))])

    return await _answer(fmt, produce)


@router.get("/tokens/{token}.{fmt}", summary="GET service_request_id from a token")
async def resolve_token(token: str, fmt: str, request: Request) -> Response:
    """The service_request_id of a token once its request is stored; 404 before (and for unknown tokens)."""

    async def produce(f: Format) -> Response:
        case = await _case(request, _uuid(token))
        if case is None:
            raise Open311Error(404, f"token '{token}' not found (yet: a request appears once it is dispatched)")
        return formats.requests_response(f, [{"service_request_id": str(case["call_id"]), "token": token}])

    return await _answer(fmt, produce)
