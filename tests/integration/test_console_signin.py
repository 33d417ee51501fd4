"""The console's sign-in counts on the real embedded database (issue 12): a lockout survives a restart and
holds across two console processes sharing the database; a client address is throttled across them; nothing
typed into the name field is stored; without the database nobody signs in (503)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.embedded import free_port
from services.console.app import create_app
from services.console.security import SIGNIN_COLLECTION
from services.console.settings import ConsoleSettings
from services.console.users import add_user
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration

PASSWORD = "long-enough-password"


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    add_user(
        path,
        name="xhm",
        role="street",
        queue="street:大兴区/西红门镇",
        password=PASSWORD,
        api_key_name="console:xhm",
        api_key="hl_xhm",
    )
    return path


@asynccontextmanager
async def console(
    tmp_path: Path, users_file: Path, uri: str, database: str, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """One console process's app (its own lifespan, its own database client), over ASGI."""
    app = create_app(
        ConsoleSettings(
            users_file=users_file,
            revoked_sessions_file=tmp_path / "revoked.json",
            mongodb={"uri": uri, "database": database},
            **settings,
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console", headers={"Origin": "http://console"}, timeout=60
        ) as client:
            yield client


async def sign_in(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    return await client.post("/login", data={"user": name, "password": password})


async def test_a_lockout_survives_a_new_console_instance_for_known_and_unknown_names(
    tmp_path: Path, users_file: Path, settings: ServiceSettings, mongo_db: Any
) -> None:
    where = (tmp_path, users_file, settings.mongodb.uri, mongo_db.name)
    async with console(*where, login_max_failures=3) as first:
        for name in ("xhm", "Nobody-Here"):
            assert [(await sign_in(first, name, "wrong-guess")).status_code for _ in range(3)] == [401] * 3
    async with console(*where, login_max_failures=3) as restarted:  # a restart, or another process
        for name in ("xhm", "nobody-here"):
            locked = await sign_in(restarted, name, PASSWORD)
            assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 800, name
            assert "set-cookie" not in locked.headers
    stored = await mongo_db[SIGNIN_COLLECTION].find().to_list()
    assert len(stored) == 3  # two names, one client address
    assert not any("xhm" in str(doc).lower() or "nobody" in str(doc).lower() for doc in stored)
    indexes = await mongo_db[SIGNIN_COLLECTION].index_information()
    assert indexes["expires_at_1"]["expireAfterSeconds"] == 0  # MongoDB deletes what no longer counts


async def test_two_console_instances_share_the_throttle_and_a_success_clears_the_failures(
    tmp_path: Path, users_file: Path, settings: ServiceSettings, mongo_db: Any
) -> None:
    where = (tmp_path, users_file, settings.mongodb.uri, mongo_db.name)
    async with (
        console(*where, login_max_failures=3, login_attempts_per_minute=5) as a,
        console(*where, login_max_failures=3, login_attempts_per_minute=5) as b,
    ):
        assert (await sign_in(a, "xhm", "wrong-guess")).status_code == 401
        assert (await sign_in(b, "xhm", "wrong-guess")).status_code == 401
        assert (await sign_in(a, "xhm", PASSWORD)).status_code == 303  # the two failures are forgotten
        assert (await sign_in(b, "xhm", "wrong-guess")).status_code == 401
        assert (await sign_in(a, "xhm", "wrong-guess")).status_code == 401  # 2 of 3 since the success: not locked
        throttled = await sign_in(b, "someone", "wrong-guess")  # the sixth attempt of this address in a minute
        assert throttled.status_code == 429 and 0 < int(throttled.headers["retry-after"]) <= 61


async def test_without_the_database_nobody_signs_in(tmp_path: Path, users_file: Path) -> None:
    nowhere = f"mongodb://127.0.0.1:{free_port()}"
    async with console(tmp_path, users_file, nowhere, "none") as client:
        for password in (PASSWORD, "wrong-guess"):
            answer = await sign_in(client, "xhm", password)
            assert answer.status_code == 503 and answer.headers["retry-after"], password
            assert "set-cookie" not in answer.headers
        assert (await client.get("/healthz")).status_code == 200
