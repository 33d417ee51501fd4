"""The console process's ONE settings class (environment prefix ``HOTLINE_CONSOLE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    """Where the console listens, which APIs it reads and acts through, and who may sign in; plus the
    platform-wide ``HOTLINE_*`` fields and the nested ``kafka`` / ``mongodb`` groups of :class:`ServiceSettings`."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_CONSOLE_")

    host: str = Field("127.0.0.1", description="Bind address of the console.")
    port: int = Field(8002, description="Bind port of the console.")
    intake_url: str = Field("http://127.0.0.1:8000", description="Intake: case actions are posted there.")
    metrics_url: str = Field("http://127.0.0.1:8001", description="Metrics read API: queues, cases, figures.")
    session_secret: str = Field(
        "hotline-dev-console-secret", description="Signs the session cookie. Set a secret value in production."
    )
    session_hours: float = Field(12.0, gt=0, description="How long a sign-in lasts.")
    users_file: Path = Field(
        Path(".hotline/console-users.json"), description="JSON file of console users (scrypt-hashed passwords)."
    )
    intake_api_keys_file: Path = Field(
        Path(".hotline/api-keys.json"),
        description="Intake's API-key file, where `python -m services.console.users add` stores each new user's "
        "key (the same file as HOTLINE_INTAKE_API_KEYS_FILE; the console process itself never reads it).",
    )
    poll_seconds: float = Field(0.25, gt=0, description="How often the live feed reads the metrics API.")
    request_timeout_seconds: float = Field(5.0, gt=0, description="Timeout of calls to intake and metrics.")
