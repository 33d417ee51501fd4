"""What every console page shares: the signed-in user (session cookie), the language, rendering a
template, refusing, reading a form, and the answers to "sign in first" and "an upstream failed".

The composition root (``services.console.app``) puts the settings, the users directory, the templates
and the upstream clients on ``app.state``; these helpers read them from the request.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from services.console import views
from services.console.clients import IntakeClient, MetricsClient, UpstreamError
from services.console.i18n import LANGUAGES, pick_language, translator
from services.console.security import RevokedSessions, same_origin_problem
from services.console.sessions import unsign
from services.console.settings import ConsoleSettings
from services.console.users import User, UserDirectory
from shared.masking import mask_contacts

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "hotline_console"
LANGUAGE_COOKIE = "hotline_lang"


class SignInRequired(Exception):
    """The request needs a signed-in user."""


def page_templates() -> Environment:
    """The console's Jinja templates, with the filters they use."""
    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
    )
    templates.filters["mask"] = mask_contacts
    templates.filters["local_time"] = views.local_time
    templates.filters["category_path"] = views.category_path
    return templates


def settings_of(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


def metrics(request: Request) -> MetricsClient:
    client: MetricsClient = request.app.state.metrics
    return client


def intake(request: Request) -> IntakeClient:
    client: IntakeClient = request.app.state.intake
    return client


def users(request: Request) -> UserDirectory:
    directory: UserDirectory = request.app.state.users
    return directory


def language(request: Request) -> str:
    return pick_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE))


def session_secret(request: Request) -> str:
    """The secret that signs session cookies (configured, or random for this process)."""
    secret: str = request.app.state.session_secret
    return secret


def revoked_sessions(request: Request) -> RevokedSessions:
    revoked: RevokedSessions = request.app.state.revoked_sessions
    return revoked


def session_of(request: Request) -> dict[str, Any] | None:
    """The payload of the request's valid session cookie (user, session id, expiry); None when there is
    none, it is forged or expired, or its session was ended by signing out."""
    payload = unsign(request.cookies.get(SESSION_COOKIE), session_secret(request))
    if payload is None or not isinstance(payload.get("sid"), str):
        return None
    return None if revoked_sessions(request).is_revoked(payload["sid"]) else payload


def current_user(request: Request) -> User:
    """The signed-in user; SignInRequired (a redirect to the sign-in page) without a valid session."""
    payload = session_of(request)
    user = users(request).get(str(payload.get("user"))) if payload else None
    if user is None:
        raise SignInRequired
    return user


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    """A cookie of the console: HttpOnly, SameSite=Strict, Secure when the settings say HTTPS."""
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict", secure=settings_of(request).secure_cookies
    )


def render(
    request: Request, template: str, status_code: int = 200, user: User | None = None, **context: Any
) -> HTMLResponse:
    """``template`` in the request's language; a ``?lang=`` choice is remembered in a cookie."""
    lang = language(request)
    t = translator(lang)
    templates: Environment = request.app.state.templates
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
        set_cookie(request, response, LANGUAGE_COOKIE, lang, max_age=365 * 86400)
    return response


def refuse(request: Request, user: User, status_code: int, reason: str) -> HTMLResponse:
    t = translator(language(request))
    title = t({403: "forbidden", 404: "not_found"}.get(status_code, "bad_request"))
    return render(request, "error.html", status_code=status_code, user=user, title=title, reason=reason)


async def form_of(request: Request) -> dict[str, str]:
    """An urlencoded form as a dict (repeated fields joined with commas)."""
    parsed = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: ",".join(values) for key, values in parsed.items()}


async def sign_in_first(request: Request, _exc: SignInRequired) -> Response:
    if request.url.path.startswith(("/live/", "/rows/")):
        return JSONResponse({"detail": "sign in first"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def upstream_failed(request: Request, exc: UpstreamError) -> Response:
    log.warning("upstream error on %s: %s", request.url.path, exc.detail)
    return HTMLResponse(f"<h1>{exc.status}</h1><p>{Markup.escape(exc.detail)}</p>", status_code=502)


async def refuse_cross_site(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Middleware: a state-changing request from another origin (CSRF) is refused with 403 before any route."""
    settings = settings_of(request)
    own = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    problem = same_origin_problem(request.method, request.headers, own, settings.allowed_origins)
    if problem is None:
        return await call_next(request)
    log.warning("refused %s %s: %s", request.method, request.url.path, problem)
    t = translator(language(request))
    return HTMLResponse(
        f"<h1>403</h1><p>{Markup.escape(t('cross_site'))}</p><p>{Markup.escape(problem)}</p>", status_code=403
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequired, sign_in_first)  # type: ignore[arg-type]
    app.add_exception_handler(UpstreamError, upstream_failed)  # type: ignore[arg-type]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell that starts with one of these as a formula: a citizen's words must never run in
an operator's Excel (CSV injection), so such text is exported with a leading apostrophe (CSV) or as text (xlsx)."""

EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def table_download(rows: list[dict[str, Any]], stem: str, export_format: str = "csv") -> Response:
    """``rows`` (same keys each) as an attachment ``stem.csv`` (UTF-8 with BOM: Excel opens it) or ``stem.xlsx``
    (one sheet, a header row, text kept as text): the console's one way to hand a table to a spreadsheet."""
    filename = f"{stem}.{export_format}"
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"}
    if export_format == "xlsx":
        return Response(_xlsx(rows), media_type=EXPORT_FORMATS["xlsx"], headers=disposition)
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({key: _inert(value) for key, value in row.items()} for row in rows)
    return Response("\ufeff" + out.getvalue(), media_type=EXPORT_FORMATS["csv"], headers=disposition)


def _inert(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _xlsx(rows: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Hotline")
    if rows:
        sheet.append(list(rows[0]))
    for row in rows:
        cells = []
        for value in row.values():
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
                cell.data_type = "s"  # text, even when it starts with "=" (no formula)
            else:
                cell = WriteOnlyCell(sheet, value)
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
