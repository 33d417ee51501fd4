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
    metrics_api_key: str = Field(
        "",
        description="API key (scope read:all) the console reads the metrics API with; `hotline up` creates one "
        "(kept in <home>/service-keys.json). Each user's own access is the console's (role and queue).",
    )
    session_secret: str = Field(
        "",
        description="Signs the session cookie (32+ random characters). Empty: a random secret per process, so "
        "sessions end when the console restarts; `hotline up` generates one per installation "
        "(<home>/console-session-secret, mode 0600).",
    )
    session_hours: float = Field(12.0, gt=0, description="How long a sign-in lasts.")
    revoked_sessions_file: Path = Field(
        Path(".hotline/console-revoked-sessions.json"),
        description="Sessions ended by signing out (ids until they expire), so a copied cookie is dead too.",
    )
    secure_cookies: bool = Field(
        False, description="Mark the cookies Secure (sent over HTTPS only): set when the console is served over HTTPS."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host:port) besides the console's own from which forms may be posted, "
        "e.g. its public HTTPS address behind a proxy. Every other cross-origin POST is refused (CSRF).",
    )
    login_max_failures: int = Field(
        5, ge=1, description="Wrong passwords for one user name within login_window_seconds before it is locked."
    )
    login_window_seconds: float = Field(900, gt=0, description="Window in which failed sign-ins are counted.")
    login_lockout_seconds: float = Field(900, gt=0, description="How long a user name stays locked.")
    login_attempts_per_minute: int = Field(
        30, ge=1, description="Sign-in attempts one client address may make per minute (429 beyond)."
    )
    users_file: Path = Field(
        Path(".hotline/console-users.json"), description="JSON file of console users (scrypt-hashed passwords)."
    )
    intake_api_keys_file: Path = Field(
        Path(".hotline/api-keys.json"),
        description="Intake's API-key file, where `python -m services.console.users add` stores each new user's "
        "key (the same file as HOTLINE_INTAKE_API_KEYS_FILE; the console process itself never reads it).",
    )
    max_request_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest form accepted (413 otherwise), refused before it is read; a step's note of 4,000 "
        "characters, percent-encoded, takes ~36 KB.",
    )
    poll_seconds: float = Field(0.25, gt=0, description="How often the live feed reads the metrics API.")
    request_timeout_seconds: float = Field(5.0, gt=0, description="Timeout of calls to intake and metrics.")
