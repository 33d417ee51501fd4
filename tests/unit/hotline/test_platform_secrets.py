"""`hotline up` gives every installation its own console session secret and its services' read keys."""

from __future__ import annotations

import stat
from pathlib import Path

from hotline.platform import (
    CONSOLE_READER,
    OPEN311_READER,
    SERVICE_KEYS_FILE,
    SESSION_SECRET_FILE,
    Platform,
    ensure_service_keys,
    ensure_session_secret,
)
from services.console.settings import ConsoleSettings
from services.intake.settings import IntakeSettings
from services.metrics.settings import MetricsSettings
from shared.api_keys import load_keys, verify
from shared.settings import ServiceSettings


def _platform(home: Path, session_secret: str = "") -> Platform:
    return Platform(
        settings=ServiceSettings(home=home),
        home=home,
        embedded_kafka=True,
        embedded_mongodb=True,
        intake=IntakeSettings(api_keys_file=home / "api-keys.json"),
        metrics=MetricsSettings(),
        console=ConsoleSettings(session_secret=session_secret),
        cwd=home,
    )


def test_each_installation_gets_its_own_session_secret_kept_owner_only(tmp_path: Path) -> None:
    first, second = _platform(tmp_path / "a"), _platform(tmp_path / "b")
    secret = ensure_session_secret(first)
    assert len(secret) >= 32 and secret != "hotline-dev-console-secret"
    assert secret != ensure_session_secret(second)
    assert ensure_session_secret(first) == secret  # kept: sessions survive a restart
    path = tmp_path / "a" / SESSION_SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_session_secret(_platform(tmp_path / "c", session_secret="x" * 40)) == "x" * 40


def test_the_console_and_open311_get_read_all_keys_passed_to_their_processes(tmp_path: Path) -> None:
    platform = _platform(tmp_path)
    platform.service_keys = ensure_service_keys(platform)
    records = load_keys(platform.api_keys_file)
    for reader in (CONSOLE_READER, OPEN311_READER):
        record = verify(records, platform.service_keys[reader])
        assert record is not None and record.reads_everything
    assert stat.S_IMODE((tmp_path / SERVICE_KEYS_FILE).stat().st_mode) == 0o600
    assert ensure_service_keys(platform) == platform.service_keys  # created once
    platform.session_secret = ensure_session_secret(platform)
    env = platform.process_env()
    assert env["HOTLINE_CONSOLE_METRICS_API_KEY"] == platform.service_keys[CONSOLE_READER]
    assert env["HOTLINE_INTAKE_METRICS_API_KEY"] == platform.service_keys[OPEN311_READER]
    assert env["HOTLINE_CONSOLE_SESSION_SECRET"] == platform.session_secret
    assert env["HOTLINE_METRICS_API_KEYS_FILE"] == str(platform.api_keys_file)
