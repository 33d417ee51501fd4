"""The intake process's ONE settings class (environment prefix ``HOTLINE_INTAKE_``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.clock import EARLIEST_INSTANT
from shared.events import MAX_TEXT_CHARS
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Where the REST intake listens, whose keys it accepts and what it accepts; plus the platform-wide
    ``HOTLINE_*`` fields and the nested ``kafka`` / ``mongodb`` groups of :class:`ServiceSettings`."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_INTAKE_")

    host: str = Field("127.0.0.1", description="Bind address of the intake.")
    port: int = Field(8000, description="Bind port of the intake.")
    api_keys_file: Path = Field(
        Path(".hotline/api-keys.json"),
        description="JSON file of API keys, stored as salted SHA-256 hashes (see `hotline keys`).",
    )
    max_batch: int = Field(1000, ge=1, description="Largest accepted POST /v1/calls/batch.")
    max_text_chars: int = Field(
        10_000,
        ge=1,
        le=MAX_TEXT_CHARS,
        description="Longest accepted subject+body text (at most the contract's 20,000).",
    )
    max_request_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted (413 otherwise), refused before it is read or parsed; a full "
        "batch (max_batch calls) must fit.",
    )
    received_at_earliest: datetime = Field(
        EARLIEST_INSTANT,
        description="The earliest received_at accepted (422 otherwise); e.g. when this hotline started taking calls.",
    )
    clock_skew_seconds: int = Field(
        300, ge=0, le=86_400, description="How far in the future received_at may lie (the senders' clock skew)."
    )
    retry_after_seconds: int = Field(5, ge=1, description="Retry-After sent with 503 answers.")
    metrics_url: str = Field(
        "http://127.0.0.1:8001", description="The metrics read API, where Open311 reads cases (GET requests)."
    )
    metrics_api_key: str = Field(
        "",
        description="API key (scope read:all) Open311 reads the metrics API with; `hotline up` creates one "
        "(kept in <home>/service-keys.json).",
    )
    open311_service_type: Literal["realtime", "batch"] = Field(
        "realtime",
        description="Open311 service type: realtime answers POST requests with service_request_id, "
        "batch with a token that GET tokens/{token} resolves once the case is stored.",
    )
