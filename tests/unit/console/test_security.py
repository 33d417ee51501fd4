"""The console's defences over HTTP (issue 12, item 5): cross-site forms refused, sign-in throttled and
locked with the same answer for known and unknown names, scrypt off the event loop, sessions revoked on
sign-out, Secure cookies when configured, and no public default session secret."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.console import users as console_users
from services.console.routes import auth
from services.console.security import SignInGuard, same_origin_problem
from services.console.sessions import sign
from services.console.settings import ConsoleSettings
from services.console.web import SESSION_COOKIE
from tests.unit.console.memory_signin import MemorySignInState
from tests.unit.console.test_app import PASSWORD, XHM, FakeIntake, _console, sign_in


@pytest.fixture
def intake() -> FakeIntake:
    return FakeIntake()


@pytest.fixture
def console(tmp_path: Path, intake: FakeIntake) -> Iterator[TestClient]:
    with _console(tmp_path, intake, login_max_failures=3, login_attempts_per_minute=100) as client:
        yield client


def test_a_step_posted_from_another_origin_is_refused_before_reaching_intake(
    console: TestClient, intake: FakeIntake
) -> None:
    sign_in(console, "xhm")
    for origin in ("http://testserver:8003", "http://evil.example", "null"):
        response = console.post("/cases/c-xhm/steps", data={"kind": "accepted"}, headers={"Origin": origin})
        assert response.status_code == 403, origin
    bare = TestClient(console.app, follow_redirects=False, cookies=console.cookies)
    assert bare.post("/cases/c-xhm/steps", data={"kind": "accepted"}).status_code == 403  # no Origin, no Referer
    assert bare.post("/logout").status_code == 403
    assert intake.posted == []
    referer = {"Origin": "", "Referer": "http://testserver/cases/c-xhm"}
    assert console.post("/cases/c-xhm/steps", data={"kind": "accepted"}, headers=referer).status_code == 303
    assert len(intake.posted) == 1


def test_the_origin_rule() -> None:
    own = "http://console.local:8002"
    assert same_origin_problem("GET", {}, own) is None
    assert same_origin_problem("POST", {"origin": "http://console.local:8002"}, own) is None
    assert same_origin_problem("POST", {"origin": "https://console.local:8002"}, own) is None  # behind TLS proxy
    assert same_origin_problem("POST", {"origin": "http://console.local:8003"}, own)  # another port
    assert same_origin_problem("POST", {"origin": "http://console.local"}, own)
    assert same_origin_problem("POST", {"origin": "https://hotline.example"}, own, ["https://hotline.example"]) is None
    assert same_origin_problem("DELETE", {}, own)


def test_the_session_cookie_is_strict_httponly_and_secure_when_configured(tmp_path: Path, intake: FakeIntake) -> None:
    with _console(tmp_path, intake) as plain:
        cookie = plain.post("/login", data={"user": "xhm", "password": PASSWORD}).headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    with _console(tmp_path, intake, secure_cookies=True) as https:
        cookie = https.post("/login", data={"user": "xhm", "password": PASSWORD}).headers["set-cookie"]
        assert "Secure" in cookie and "SameSite=strict" in cookie


def test_signing_out_revokes_the_session_even_for_a_copy_of_the_cookie(console: TestClient) -> None:
    sign_in(console, "xhm")
    stolen = console.cookies.get(SESSION_COOKIE)
    assert console.get(f"/queues/{XHM}").status_code == 200
    assert console.post("/logout").status_code == 303
    replay = TestClient(console.app, follow_redirects=False, cookies={SESSION_COOKIE: stolen})
    assert replay.get(f"/queues/{XHM}").status_code == 303  # back to the sign-in page
    sign_in(console, "xhm")  # a new sign-in is a new session
    assert console.get(f"/queues/{XHM}").status_code == 200


def test_repeated_wrong_passwords_lock_known_and_unknown_names_alike(console: TestClient) -> None:
    for name in ("xhm", "nobody-here"):
        answers = [console.post("/login", data={"user": name, "password": "wrong-guess"}).status_code for _ in range(3)]
        assert answers == [401, 401, 401]
        locked = console.post("/login", data={"user": name, "password": PASSWORD})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0, name
    assert console.post("/login", data={"user": "labour", "password": PASSWORD}).status_code == 303  # others go on


def test_one_client_address_is_throttled(tmp_path: Path, intake: FakeIntake) -> None:
    with _console(tmp_path, intake, login_attempts_per_minute=4) as client:
        answers = [client.post("/login", data={"user": f"u{i}", "password": "x" * 8}).status_code for i in range(6)]
    assert answers == [401, 401, 401, 401, 429, 429]


def test_an_unknown_name_costs_one_scrypt_hash_like_a_known_one_off_the_event_loop(
    console: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[bool] = []
    real = console_users.hash_password

    def counting(password: str, salt: bytes) -> str:
        try:
            asyncio.get_running_loop()
            hashed.append(True)  # on an event loop: wrong
        except RuntimeError:
            hashed.append(False)  # in a worker thread
        return real(password, salt)

    monkeypatch.setattr(console_users, "hash_password", counting)
    assert auth.password_matches is console_users.password_matches
    console.post("/login", data={"user": "nobody-here", "password": "whatever-1"})
    console.post("/login", data={"user": "xhm", "password": "whatever-1"})
    console.post("/login", data={"user": "xhm", "password": PASSWORD})
    assert hashed == [False, False, False]


def guard_at(now: list[float], *, max_failures: int, attempts_per_minute: int) -> SignInGuard:
    """A guard over counts in memory, its clock at ``now[0]`` (window 10 s, lockout 30 s)."""
    return SignInGuard(
        state=MemorySignInState(),
        max_failures=max_failures,
        window_seconds=10,
        lockout_seconds=30,
        attempts_per_minute=attempts_per_minute,
        clock=lambda: now[0],
    )


async def test_the_guard_forgets_failures_outside_its_window() -> None:
    now = [0.0]
    guard = guard_at(now, max_failures=2, attempts_per_minute=99)
    await guard.failed("a")
    now[0] = 11
    await guard.failed("a")
    assert await guard.refusal("a", "ip") is None
    await guard.failed("A")  # names are case-folded
    assert await guard.refusal("a", "ip") == pytest.approx(30)
    now[0] = 42
    assert await guard.refusal("a", "ip") is None


async def test_a_client_that_keeps_trying_stays_throttled_until_it_slows_down() -> None:
    now = [0.0]
    guard = guard_at(now, max_failures=99, attempts_per_minute=3)
    assert [await guard.refusal(f"u{i}", "ip") for i in range(3)] == [None, None, None]
    now[0] = 1
    assert await guard.refusal("u", "ip") == pytest.approx(59)
    assert await guard.refusal("u", "other-ip") is None
    now[0] = 60.5
    assert await guard.refusal("u", "ip") is None  # the three of second 0 have left the minute


def test_there_is_no_public_default_session_secret(tmp_path: Path, intake: FakeIntake) -> None:
    assert ConsoleSettings().session_secret == ""
    forged = sign({"user": "boss", "sid": "x"}, "hotline-dev-console-secret", max_age_seconds=3600)
    with _console(tmp_path, intake) as client:
        assert client.app.state.session_secret not in ("", "hotline-dev-console-secret")  # type: ignore[attr-defined]
        visitor = TestClient(client.app, follow_redirects=False, cookies={SESSION_COOKIE: forged})
        assert visitor.get("/queues").status_code == 303


def test_a_form_over_max_request_bytes_is_413_and_a_body_not_a_form_is_415(tmp_path: Path, intake: FakeIntake) -> None:
    with _console(tmp_path, intake, max_request_bytes=2048) as client:
        sign_in(client, "xhm")
        large = client.post("/cases/c-xhm/steps", data={"kind": "accepted", "note": "x" * 4096})
        assert large.status_code == 413 and "HOTLINE_CONSOLE_MAX_REQUEST_BYTES" in large.text
        as_json = client.post("/login", json={"user": "xhm", "password": PASSWORD})
        assert as_json.status_code == 415 and "application/x-www-form-urlencoded" in as_json.text
        assert client.post("/logout").status_code == 303  # an empty body has no type to check
    assert intake.posted == []


def test_the_openapi_document_declares_every_form_and_the_answers_of_each_route(console: TestClient) -> None:
    """So that tools and the schemathesis fuzz (tests/fuzz) exercise the forms, and know each 4xx they give."""
    paths = console.get("/openapi.json").json()["paths"]
    forms = {
        (path, method): set(op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"])
        for path, ops in paths.items()
        for method, op in ops.items()
        if "requestBody" in op
    }
    assert forms == {
        ("/login", "post"): {"user", "password", "next"},
        ("/logout", "post"): set(),
        ("/bulk/{queue_id}", "post"): {"call_id", "batch"},
        ("/cases/{call_id}/steps", "post"): {
            "kind",
            "note",
            "departments",
            "callback_result",
            "category_path",
            "queue_id",
            "idempotency_key",
        },
    }
    posts = {path for path, ops in paths.items() if "post" in ops}
    assert posts == {path for path, _ in forms}  # every POST route takes a declared form
    for path in posts:
        assert {"403", "413", "415"} <= set(paths[path]["post"]["responses"]), path
    assert {"401", "429", "503"} <= set(paths["/login"]["post"]["responses"])
    steps = set(paths["/cases/{call_id}/steps"]["post"]["responses"])
    assert {"400", "403", "404", "409", "422", "503"} <= steps
    assert "404" in paths["/cases/{call_id}"]["get"]["responses"]
    assert "403" in paths["/queues/{queue_id}"]["get"]["responses"]
