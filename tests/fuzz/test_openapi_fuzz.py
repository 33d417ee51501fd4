"""schemathesis over the OpenAPI documents of intake, the metrics read API and the console (issue 12):
requests generated from each operation's schema, valid and not, sent over HTTP to the service running as a
process on the session's broker and database. The console is fuzzed signed in as a supervisor (its session
cookie and its own Origin on every request, so the generated requests reach the pages, not only the
sign-in and cross-site refusals); its forms (sign-in, a case step, bulk accept) are declared in its OpenAPI
document (services/console/openapi.py), so they are generated too. No answer may be a server error (500, or any 5xx but the documented
503 of an unavailable broker or database).

Bounded here (HOTLINE_FUZZ_EXAMPLES, default 6 per operation); ``make fuzz`` runs 200 per operation and
requires at least 1,000 cases for each API. Server-sent-event streams are left out (an answer lasts as long
as its stream).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from hotline.embedded import free_port
from services.console.users import Role, add_user_with_intake_key
from services.console.web import SESSION_COOKIE
from shared.api_keys import CALLS_WRITE, PROGRAMME_WRITE, READ_ALL, SUPERVISOR, create_key
from tests.helpers import run_service

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(1800)]

EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "6"))
# Server-sent events: an answer lasts as long as the stream (max_events x interval); checked in test_metrics_api
# and the console's browser tests. Signing out would end the fuzzing session itself (tested in test_security).
LEFT_OUT = {"/v1/stream", "/live/queues", "/logout"}
PASSWORD = "fuzz-supervisor-password"


@dataclass
class Service:
    url: str
    headers: dict[str, str]
    log: Path


@dataclass
class Tally:
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)


def wait_ready(url: str, proc: object, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]  # type: ignore[attr-defined]
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready: {log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def services(server_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Service]]:
    keys_file = tmp_path / "keys.json"
    key = create_key(keys_file, "fuzz", (CALLS_WRITE, SUPERVISOR, PROGRAMME_WRITE, READ_ALL))
    intake_port, metrics_port, console_port = free_port(), free_port(), free_port()
    users_file = tmp_path / "console-users.json"
    add_user_with_intake_key(users_file, keys_file, name="fuzz", role=Role.supervisor, queue=None, password=PASSWORD)
    env = {
        **server_env,
        "MONGODB_DATABASE": f"fuzz_{os.getpid()}",
        "HOTLINE_INTAKE_PORT": str(intake_port),
        "HOTLINE_INTAKE_API_KEYS_FILE": str(keys_file),
        "HOTLINE_METRICS_PORT": str(metrics_port),
        "HOTLINE_METRICS_API_KEYS_FILE": str(keys_file),
        "HOTLINE_CONSOLE_PORT": str(console_port),
        "HOTLINE_CONSOLE_INTAKE_URL": f"http://127.0.0.1:{intake_port}",
        "HOTLINE_CONSOLE_METRICS_URL": f"http://127.0.0.1:{metrics_port}",
        "HOTLINE_CONSOLE_METRICS_API_KEY": key,
        "HOTLINE_CONSOLE_USERS_FILE": str(users_file),
        "HOTLINE_CONSOLE_INTAKE_API_KEYS_FILE": str(keys_file),
        "HOTLINE_CONSOLE_REVOKED_SESSIONS_FILE": str(tmp_path / "revoked.json"),
        "HOTLINE_CONSOLE_SESSION_SECRET": "fuzz-" + os.urandom(16).hex(),
    }
    with (
        run_service("services.intake", env, tmp_path / "intake.log") as intake,
        run_service("services.metrics.api", env, tmp_path / "metrics-api.log") as metrics,
        run_service("services.console", env, tmp_path / "console.log") as console,
    ):
        found = {
            "intake": Service(f"http://127.0.0.1:{intake_port}", {"X-API-Key": key}, tmp_path / "intake.log"),
            "metrics-api": Service(
                f"http://127.0.0.1:{metrics_port}", {"X-API-Key": key}, tmp_path / "metrics-api.log"
            ),
        }
        wait_ready(found["intake"].url, intake, found["intake"].log)
        wait_ready(found["metrics-api"].url, metrics, found["metrics-api"].log)
        console_url = f"http://127.0.0.1:{console_port}"
        wait_ready(console_url, console, tmp_path / "console.log")
        found["console"] = Service(console_url, signed_in(console_url), tmp_path / "console.log")
        yield found


def signed_in(url: str) -> dict[str, str]:
    """The headers of a supervisor's browser: the session cookie and the console's own Origin."""
    origin = {"Origin": url}
    answer = httpx.post(url + "/login", data={"user": "fuzz", "password": PASSWORD}, headers=origin, timeout=30)
    assert answer.status_code == 303, answer.text[:300]
    cookie = answer.cookies.get(SESSION_COOKIE)
    assert cookie, answer.headers
    return {**origin, "Cookie": f"{SESSION_COOKIE}={cookie}"}


def fuzz_operation(operation: object, service: Service, tally: Tally, examples: int) -> None:
    """``examples`` generated requests for one operation, each sent and its answer tallied."""

    @settings(
        max_examples=examples, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())  # type: ignore[attr-defined]
    def send(case: Any) -> None:
        response = case.call(base_url=service.url, headers=service.headers, timeout=30)
        tally.cases += 1
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500 and response.status_code != 503:
            tally.server_errors.append(f"{response.status_code} {case.as_curl_command()}\n{response.text[:300]}")

    send()


def fuzz(service: Service, examples: int) -> Tally:
    schema = schemathesis.openapi.from_url(service.url + "/openapi.json")
    tally = Tally()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"an operation of {service.url} has an invalid schema: {result}"
        if result.ok().path not in LEFT_OUT:
            fuzz_operation(result.ok(), service, tally, examples)
    return tally


@pytest.mark.parametrize("name", ["intake", "metrics-api", "console"])
def test_generated_requests_never_get_a_server_error(services: dict[str, Service], name: str) -> None:
    service = services[name]
    tally = fuzz(service, EXAMPLES)
    print(f"\n{name}: {tally.cases} cases, answers {dict(sorted(tally.statuses.items()))}")
    assert tally.cases >= EXAMPLES  # every operation was exercised at least once
    if name == "console":  # fuzzed signed in to the end: the pages were reached, not the sign-in redirect
        assert httpx.get(service.url + "/queues", headers=service.headers, timeout=30).status_code == 200
    if EXAMPLES >= 150:  # make fuzz: the bar
        assert tally.cases >= 1000, f"only {tally.cases} cases"
    assert not tally.server_errors, (
        "\n\n".join(tally.server_errors[:10]) + service.log.read_text(errors="replace")[-3000:]
    )
