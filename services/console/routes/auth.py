"""Signing in and out: ``/login`` (page and form) and ``/logout``; the session is a signed cookie with a
random session id, which signing out revokes. Sign-in is throttled and locked after repeated failures
(``services.console.security.SignInGuard``, its counts in MongoDB: without them nobody signs in, 503), and
the password hash runs off the event loop."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pymongo.errors import PyMongoError

from services.console.i18n import translator
from services.console.openapi import FORM_ANSWERS, SignInForm, answers, form_body
from services.console.security import SignInGuard
from services.console.sessions import new_session_id, sign
from services.console.users import password_matches
from services.console.web import (
    SESSION_COOKIE,
    form_of,
    language,
    render,
    revoked_sessions,
    session_of,
    session_secret,
    set_cookie,
    settings_of,
    users,
)

log = logging.getLogger(__name__)
router = APIRouter()
SIGNIN_RETRY_SECONDS = 5  # Retry-After when the sign-in counts (MongoDB) do not answer


def safe_next(target: str) -> str:
    """Only a local path is a redirect target after sign-in."""
    return target if target.startswith("/") and not target.startswith("//") else "/queues"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", next=request.query_params.get("next", "/queues"), error=None)


@router.post(
    "/login",
    response_model=None,
    openapi_extra=form_body(SignInForm),
    responses=answers(
        303,
        401,
        *FORM_ANSWERS,
        429,
        503,
        s303="Signed in: the session cookie is set, on to next.",
        s401="Wrong user name or password (the same for an unknown name).",
        s503="The sign-in counts (MongoDB) did not answer: nobody signs in; retry after Retry-After seconds.",
    ),
)
async def login(request: Request) -> Response:
    form = await form_of(request)
    name, password = form.get("user", ""), form.get("password", "")
    target = safe_next(form.get("next", "/queues"))
    t = translator(language(request))
    guard: SignInGuard = request.app.state.signin_guard
    try:
        wait = await guard.refusal(name, request.client.host if request.client else "")
        if wait is not None:
            refused = render(request, "login.html", status_code=429, next=target, error=t("too_many_attempts"))
            refused.headers["Retry-After"] = str(int(wait) + 1)
            return refused
        user = users(request).get(name)
        hashing: asyncio.Semaphore = request.app.state.password_hashing
        async with hashing:  # scrypt costs ~50 ms of CPU and 16 MiB: a few at a time, never on the event loop
            matches = await asyncio.to_thread(password_matches, user, password)
        if user is None or not matches:
            await guard.failed(name)
            return render(request, "login.html", status_code=401, next=target, error=t("bad_credentials"))
        await guard.succeeded(name)
    except PyMongoError as exc:
        # Without its counts the guard cannot judge an attempt: nobody signs in (the same answer whether or not
        # the password was right) until the database answers again.
        log.warning("sign-in refused, its counts are not reachable: %s", type(exc).__name__)
        unavailable = render(request, "login.html", status_code=503, next=target, error=t("signin_unavailable"))
        unavailable.headers["Retry-After"] = str(SIGNIN_RETRY_SECONDS)
        return unavailable
    settings = settings_of(request)
    response = RedirectResponse(target, status_code=303)
    max_age = settings.session_hours * 3600
    token = sign({"user": user.name, "sid": new_session_id()}, session_secret(request), max_age_seconds=max_age)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=int(max_age))
    return response


@router.post(
    "/logout",
    openapi_extra=form_body(),
    responses=answers(303, *FORM_ANSWERS, s303="Signed out (the session revoked): to the sign-in page."),
)
async def logout(request: Request) -> RedirectResponse:
    """Ends the session for good: its id is revoked, so a copy of the cookie no longer signs anyone in."""
    session = session_of(request)
    if session is not None:
        await asyncio.to_thread(revoked_sessions(request).revoke, str(session["sid"]), float(session["exp"]))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", secure=settings_of(request).secure_cookies)
    return response
