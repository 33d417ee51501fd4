"""The operator console (``python -m services.console``): server-rendered pages over the metrics read API,
case steps posted to intake with the signed-in user's API key, and a live feed of the queues (SSE).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from services.console import access, views
from services.console.clients import IntakeClient, MetricsClient, UpstreamError
from services.console.i18n import LANGUAGES, pick_language, translator
from services.console.live import LiveQueues
from services.console.sessions import sign, unsign
from services.console.settings import ConsoleSettings
from services.console.users import User, load_users, verify_password
from shared.clock import current_month
from shared.events import CallbackResult, CaseEventKind, UnitKind
from shared.queues import kind_of

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "hotline_console"
LANGUAGE_COOKIE = "hotline_lang"
CASES_SHOWN = 200


class SignInRequired(Exception):
    """The request needs a signed-in user."""


def catalogue_choices() -> tuple[list[str], list[str]]:
    """Department queue ids of the dispatch catalogue (whom a whistle may summon) and the level-1 categories
    (what a case may be reclassified as): the same lists intake checks steps against."""
    try:
        from shared.catalogue import DEFAULT_CATALOGUE_PATH, load_catalogue
        from shared.reference import LEVEL1_CATEGORIES
        from shared.settings import get_settings

        catalogue = load_catalogue(get_settings().catalogue_path or DEFAULT_CATALOGUE_PATH)
        return sorted(catalogue.department_queues()), list(LEVEL1_CATEGORIES)
    except Exception as exc:  # the console still works; the forms then take free text
        log.warning("dispatch catalogue not readable, step forms take free text: %s", exc)
        return [], []


class UserDirectory:
    """The users file, re-read when it changes (users added with the CLI need no restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: float | None = None
        self._users: dict[str, User] = {}

    def get(self, name: str) -> User | None:
        try:
            stamp = self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        if stamp != self._stamp:
            self._users, self._stamp = load_users(self.path), stamp
        return self._users.get(name)


def create_app(
    settings: ConsoleSettings | None = None,
    *,
    metrics_transport: httpx.AsyncBaseTransport | None = None,
    intake_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The console app for ``settings``; the transports replace the network to the upstreams (tests)."""
    settings = settings or ConsoleSettings()
    users = UserDirectory(settings.users_file)
    catalogue_departments, categories = catalogue_choices()
    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
    )
    templates.filters["mask"] = views.mask_contacts
    templates.filters["local_time"] = views.local_time
    templates.filters["category_path"] = views.category_path

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.request_timeout_seconds)
        async with (
            httpx.AsyncClient(
                base_url=settings.metrics_url, timeout=timeout, transport=metrics_transport
            ) as metrics_http,
            httpx.AsyncClient(base_url=settings.intake_url, timeout=timeout, transport=intake_transport) as intake_http,
        ):
            app.state.metrics = MetricsClient(metrics_http)
            app.state.intake = IntakeClient(intake_http)
            app.state.live = LiveQueues(app.state.metrics, settings.poll_seconds)
            try:
                yield
            finally:
                await app.state.live.stop()

    app = FastAPI(title="Hotline operator console", version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def metrics(request: Request) -> MetricsClient:
        client: MetricsClient = request.app.state.metrics
        return client

    def language(request: Request) -> str:
        return pick_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE))

    def current_user(request: Request) -> User:
        payload = unsign(request.cookies.get(SESSION_COOKIE), settings.session_secret)
        user = users.get(str(payload.get("user"))) if payload else None
        if user is None:
            raise SignInRequired
        return user

    def render(
        request: Request, template: str, status_code: int = 200, user: User | None = None, **context: Any
    ) -> HTMLResponse:
        lang = language(request)
        t = translator(lang)
        page = templates.get_template(template).render(
            t=t,
            lang=lang,
            languages=LANGUAGES,
            user=user,
            path=request.url.path,
            role_label=(t(f"role_{user.role.value}") if user else ""),
            now=datetime.now(UTC),
            **context,
        )
        response = HTMLResponse(page, status_code=status_code)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="lax")
        return response

    def refuse(request: Request, user: User, status_code: int, reason: str) -> HTMLResponse:
        t = translator(language(request))
        title = t("forbidden") if status_code == 403 else t("not_found")
        return render(request, "error.html", status_code=status_code, user=user, title=title, reason=reason)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _exc: SignInRequired) -> Response:
        if request.url.path.startswith(("/live/", "/rows/")):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(UpstreamError)
    async def upstream_failed(request: Request, exc: UpstreamError) -> Response:
        log.warning("upstream error on %s: %s", request.url.path, exc.detail)
        return HTMLResponse(f"<h1>{exc.status}</h1><p>{Markup.escape(exc.detail)}</p>", status_code=502)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=None)
    async def readyz(request: Request) -> dict[str, str] | JSONResponse:
        """The metrics read API answers (the console shows nothing without it)."""
        body = await metrics(request).optional("/readyz")
        if body is None:
            return JSONResponse({"status": "unavailable", "reason": "metrics API not ready"}, status_code=503)
        return {"status": "ready"}

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request) -> HTMLResponse:
        return render(request, "login.html", next=request.query_params.get("next", "/queues"), error=None)

    @app.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        form = await form_of(request)
        name, password = form.get("user", ""), form.get("password", "")
        target = safe_next(form.get("next", "/queues"))
        user = users.get(name)
        if user is None or not verify_password(user, password):
            t = translator(language(request))
            return render(request, "login.html", status_code=401, next=target, error=t("bad_credentials"))
        response = RedirectResponse(target, status_code=303)
        max_age = settings.session_hours * 3600
        token = sign({"user": user.name}, settings.session_secret, max_age_seconds=max_age)
        response.set_cookie(SESSION_COOKIE, token, max_age=int(max_age), httponly=True, samesite="lax")
        return response

    @app.post("/logout")
    async def logout() -> RedirectResponse:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/")
    async def home() -> RedirectResponse:
        return RedirectResponse("/queues", status_code=303)

    @app.get("/queues", response_class=HTMLResponse)
    async def queues_page(request: Request) -> HTMLResponse:
        """Every queue the user may see, live."""
        user = current_user(request)
        queues = access.visible_queues(user, await metrics(request).queues())
        return render(request, "queues.html", user=user, queues=queues)

    @app.get("/queues/{queue_id:path}", response_class=HTMLResponse)
    async def queue_page(queue_id: str, request: Request) -> HTMLResponse:
        """One queue's waiting cases, oldest first, live."""
        user = current_user(request)
        if not access.can_see_queue(user, queue_id):
            return refuse(request, user, 403, f"{user.name}: {queue_id}")
        queue, cases = await queue_and_cases(request, user, queue_id)
        return render(request, "queue.html", user=user, queue=queue, **case_rows(request, cases, queue))

    @app.get("/rows/{queue_id:path}", response_class=HTMLResponse)
    async def queue_rows(queue_id: str, request: Request) -> HTMLResponse:
        """The rows of a queue's case table (fetched by the page when the live feed says it changed)."""
        user = current_user(request)
        if not access.can_see_queue(user, queue_id):
            raise HTTPException(403, "not your queue")
        queue, cases = await queue_and_cases(request, user, queue_id)
        return render(request, "queue_rows.html", user=user, queue=queue, **case_rows(request, cases, queue))

    async def queue_and_cases(request: Request, user: User, queue_id: str) -> tuple[dict[str, Any], list[dict]]:
        client = metrics(request)
        listed = access.visible_queues(user, await client.queues())
        queue = next((dict(q) for q in listed if q["queue_id"] == queue_id), None)
        queue = queue or access.empty_queue(queue_id, user.role)
        cases = await client.queue_cases(queue_id, limit=CASES_SHOWN)
        return queue, cases

    def case_rows(request: Request, cases: list[dict], queue: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        lang = language(request)
        rows = []
        for case in cases:
            received = views.parse_time(case.get("received_at"))
            left = views.seconds_until((case.get("assignment") or {}).get("resolution_due_at"), now)
            rows.append(
                {
                    "case": case,
                    "waiting": views.duration((now - received).total_seconds(), lang) if received else "—",
                    "left": left,
                    "left_text": "—" if left is None else views.duration(left, lang),
                    "overdue": views.is_overdue(case, now),
                }
            )
        return {"rows": rows, "overdue_listed": sum(r["overdue"] for r in rows), "depth": queue.get("depth", 0)}

    @app.get("/cases/{call_id}", response_class=HTMLResponse)
    async def case_page(call_id: str, request: Request) -> HTMLResponse:
        """One case with its history and the steps the user may take now."""
        user = current_user(request)
        return await show_case(request, user, call_id)

    async def show_case(
        request: Request, user: User, call_id: str, *, refused: str | None = None, status_code: int = 200
    ) -> HTMLResponse:
        case = await metrics(request).case(call_id)
        if case is None or not access.can_see_case(user, case):
            return refuse(request, user, 404, call_id)
        history = next((case[key] for key in ("history", "steps", "events") if key in case), None)
        if history is None:
            found = await metrics(request).first_available(
                [f"/v1/cases/{call_id}/history", f"/v1/cases/{call_id}/events"]
            )
            history = found.get("history", found.get("events")) if isinstance(found, dict) else found
        offered = access.agreed_steps(
            access.offered_steps(user, case), await request.app.state.intake.allowed_steps(user.api_key, call_id)
        )
        known = {q["queue_id"]: q.get("unit_name") for q in await metrics(request).queues()}
        departments = sorted({q for q in known if kind_of(q) is UnitKind.department} | set(catalogue_departments))
        now = datetime.now(UTC)
        assignment = case.get("assignment") or {}
        return render(
            request,
            "case.html",
            status_code=status_code,
            user=user,
            case=case,
            assignment=assignment,
            steps=[s.value for s in offered],
            idempotency_key=uuid.uuid4().hex,
            history=history,
            departments=departments,
            callback_results=[r.value for r in CallbackResult],
            categories=categories,
            refused=refused,
            done=request.query_params.get("done"),
            pending=step_pending(request.query_params.get("done"), history, [s.value for s in offered]),
            cooperating=access.cooperating_units(case),
            resolution_left=views.seconds_until(assignment.get("resolution_due_at"), now),
            response_left=views.seconds_until(assignment.get("response_due_at"), now),
            duration=lambda s: views.duration(s, language(request)),
            overdue=views.is_overdue(case, now),
        )

    @app.post("/cases/{call_id}/steps", response_model=None)
    async def take_step(call_id: str, request: Request) -> Response:
        """Post a step to intake as the user; a refusal shows intake's reason on the case page."""
        user = current_user(request)
        form = await form_of(request)
        case = await metrics(request).case(call_id)
        if case is None or not access.can_see_case(user, case):
            return refuse(request, user, 404, call_id)
        try:
            kind = CaseEventKind(form.get("kind", ""))
        except ValueError:
            return await show_case(
                request, user, call_id, refused=f"unknown step {form.get('kind')!r}", status_code=400
            )
        if kind not in access.offered_steps(user, case):
            reason = f"'{kind.value}' is not open to {user.name} on a '{case.get('status')}' case"
            return await show_case(request, user, call_id, refused=reason, status_code=403)
        result = await request.app.state.intake.post_step(
            user.api_key, call_id, step_body(kind, form), idempotency_key=form.get("idempotency_key") or None
        )
        if not result.ok:
            reason = f"{result.status}: {result.detail}"
            return await show_case(request, user, call_id, refused=reason, status_code=result.status)
        return RedirectResponse(f"/cases/{call_id}?done={kind.value}", status_code=303)

    @app.get("/scoreboard", response_class=HTMLResponse)
    async def scoreboard(request: Request) -> HTMLResponse:
        """三率 and composite per unit, top ten streets, month on month per problem, 每月一题, hot spots."""
        from services.console.scoreboard import scoreboard_context

        user = current_user(request)
        month = request.query_params.get("month") or current_month()
        lang = language(request)
        context = await scoreboard_context(metrics(request), month, translator(lang), lang)
        return render(request, "scoreboard.html", user=user, month=month, **context)

    @app.get("/live/queues")
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

    return app


async def form_of(request: Request) -> dict[str, str]:
    """An urlencoded form as a dict (repeated fields joined with commas)."""
    parsed = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: ",".join(values) for key, values in parsed.items()}


def step_pending(done: str | None, history: Any, offered: list[str]) -> bool:
    """A step just submitted is not in the case's history yet (the metrics store applies it shortly); without
    a history, a step still offered was not applied yet."""
    if not done:
        return False
    if not isinstance(history, list):
        return done in offered
    return not any(isinstance(h, dict) and h.get("kind") == done for h in history)


def safe_next(target: str) -> str:
    """Only a local path is a redirect target after sign-in."""
    return target if target.startswith("/") and not target.startswith("//") else "/queues"


def step_body(kind: CaseEventKind, form: dict[str, str]) -> dict[str, Any]:
    """The JSON body of ``POST /v1/cases/{call_id}/events`` for a step taken in the console."""
    body: dict[str, Any] = {"kind": kind.value}
    note = form.get("note", "").strip()
    if note:
        body["note"] = note
    if kind is CaseEventKind.whistle:
        body["departments"] = [d.strip() for d in form.get("departments", "").split(",") if d.strip()]
    if kind is CaseEventKind.callback:
        body["callback_result"] = form.get("callback_result") or None
    if kind is CaseEventKind.reclassified:
        body["classification"] = {
            "category": form.get("category", "").strip(),
            "subcategory": form.get("subcategory", "").strip() or None,
            "item": form.get("item", "").strip() or None,
        }
    if kind is CaseEventKind.dispatched:
        body["queue_id"] = form.get("queue_id", "").strip()
    return body
