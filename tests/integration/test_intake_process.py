"""`python -m services.intake` as a process: it serves on HOTLINE_INTAKE_PORT and publishes what it accepts."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from hotline.embedded import free_port
from shared import topics
from shared.api_keys import create_key
from shared.events import CallReceived
from shared.settings import ServiceSettings
from tests import factories
from tests.helpers import read_topic, run_service

pytestmark = pytest.mark.integration


async def test_intake_process_serves_and_publishes_an_accepted_call(
    server_env: dict[str, str], settings: ServiceSettings, tmp_path: Path
) -> None:
    port = free_port()
    keys_file = tmp_path / "keys.json"
    key = create_key(keys_file, "process-test")
    env = {**server_env, "HOTLINE_INTAKE_PORT": str(port), "HOTLINE_INTAKE_API_KEYS_FILE": str(keys_file)}
    log_path = tmp_path / "intake.log"
    with run_service("services.intake", env, log_path) as proc:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            external_id = f"WEB-{uuid.uuid4()}"
            call = factories.submission(
                external_id,
                channel="web",
                source_system="city-portal",
                body="Graffiti on the wall of the community centre on Elm Street.",
                contact_phone="(202) 555-0143",
            )
            response = await client.post("/v1/calls", json=call, headers={"X-API-Key": key})
            assert response.status_code == 202, response.text
            call_id = response.json()["call_id"]
    [raw] = await read_topic(
        settings.kafka.bootstrap_servers,
        topics.CALLS_RECEIVED,
        until=lambda kept: len(kept) >= 1,
        keep=lambda value: call_id.encode() in value,
    )
    event = CallReceived.model_validate_json(raw)
    assert event.call.external_id == external_id and event.call.contact is not None
    assert event.call.contact.masked == "202***0143"
    assert b"5550143" not in raw
    assert "5550143" not in log_path.read_text()
