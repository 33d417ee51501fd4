"""Signing in and out: ``/login`` (page and form) and ``/logout``; the session is a signed cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.i18n import translator
from services.console.sessions import sign
from services.console.users import verify_password
from services.console.web import SESSION_COOKIE, form_of, language, render, settings_of, users

router = APIRouter()


def safe_next(target: str) -> str:
    """Only a local path is a redirect target after sign-in."""
    return target if target.startswith("/") and not target.startswith("//") else "/queues"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", next=request.query_params.get("next", "/queues"), error=None)


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    form = await form_of(request)
    name, password = form.get("user", ""), form.get("password", "")
    target = safe_next(form.get("next", "/queues"))
    user = users(request).get(name)
    if user is None or not verify_password(user, password):
        t = translator(language(request))
        return render(request, "login.html", status_code=401, next=target, error=t("bad_credentials"))
    settings = settings_of(request)
    response = RedirectResponse(target, status_code=303)
    max_age = settings.session_hours * 3600
    token = sign({"user": user.name}, settings.session_secret, max_age_seconds=max_age)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(max_age), httponly=True, samesite="lax")
    return response


@router.post("/logout")
async def logout() -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
