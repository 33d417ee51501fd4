"""Settings for every Hotline process, read from the environment (pydantic-settings).

Each group has its own prefix, so ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URI`` point the same code
at real Apache Kafka and MongoDB instead of the embedded servers.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from shared.clock import DEFAULT_TIMEZONE


class KafkaSettings(BaseSettings):
    """Where the message bus is and how topics are laid out."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port list.")
    partitions: int = Field(6, ge=1, description="Partitions of every Hotline topic created at start-up.")
    replication_factor: int = Field(1, ge=1, description="Replication factor of created topics.")
    request_timeout_ms: int = Field(10_000, ge=100, description="Producer request timeout (ms).")
    fetch_max_wait_ms: int = Field(
        100, ge=1, le=1500, description="Longest a consumer's fetch waits for data (ms): bounds per-hop latency."
    )

    @property
    def faust_broker(self) -> str:
        return ";".join(f"kafka://{server.strip()}" for server in self.bootstrap_servers.split(","))


class MongoSettings(BaseSettings):
    """Where the database is."""

    model_config = SettingsConfigDict(env_prefix="MONGODB_", extra="ignore")

    uri: str = Field("mongodb://127.0.0.1:27017", description="MongoDB connection string.")
    database: str = Field("hotline", description="Database name.")


class _AliasOnlyEnvSource(EnvSettingsSource):
    """The environment, where a field with its own variable name (``HOTLINE_HOME``) is read from that name only.

    ``validate_by_name`` (so that code may pass ``home=...``) also makes pydantic-settings read
    ``<prefix><field>``: ``$HOME`` for ``ServiceSettings`` itself, ``HOTLINE_ROUTER_HOME`` for the router.
    """

    def __call__(self) -> dict[str, Any]:
        named = {
            name for name, info in self.settings_cls.model_fields.items() if isinstance(info.validation_alias, str)
        }
        return {key: value for key, value in super().__call__().items() if key not in named}


class ServiceSettings(BaseSettings):
    """The base of every process's ONE settings class (``services/<svc>/settings.py``).

    It carries what every process shares: the platform-wide fields, each read from its own ``HOTLINE_*``
    variable whatever the subclass's prefix (``HOTLINE_HOME``, ``HOTLINE_TIMEZONE``, …), and the nested
    ``kafka`` (``KAFKA_*``) and ``mongodb`` (``MONGODB_*``) groups. A subclass sets its one prefix,
    ``HOTLINE_<SERVICE>_``, and adds its own fields. Build it once, in the process's composition root.
    """

    model_config = SettingsConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)

    home: Path = Field(
        Path(".hotline"),
        validation_alias="HOTLINE_HOME",
        description="Local state: embedded database files, keys, logs.",
    )
    timezone: str = Field(
        DEFAULT_TIMEZONE,
        validation_alias="HOTLINE_TIMEZONE",
        description="The city's time zone: months and days are counted in it.",
    )
    contact_salt: str = Field(
        "hotline-dev-salt",
        validation_alias="HOTLINE_CONTACT_SALT",
        description="Salt of the citizen-contact hash. Set a secret value in production.",
    )
    log_level: str = Field("INFO", validation_alias="HOTLINE_LOG_LEVEL", description="Log level of every service.")
    catalogue_path: Path | None = Field(
        None,
        validation_alias="HOTLINE_CATALOGUE_PATH",
        description="Dispatch catalogue (派单目录) read by intake and the router; default: the one shipped.",
    )
    programme_path: Path | None = Field(
        None,
        validation_alias="HOTLINE_PROGRAMME_PATH",
        description="每月一题 programme YAML read by intake (updates) and metrics; default: the one shipped.",
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongodb: MongoSettings = Field(default_factory=MongoSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _AliasOnlyEnvSource(settings_cls), dotenv_settings, file_secret_settings


def env_name(model: type[BaseSettings], field: str) -> str:
    """The environment variable a process reads ``model``'s ``field`` from: the field's own name when it has
    one (the platform-wide ``HOTLINE_*`` fields), else the model's prefix and the field in capitals."""
    info = model.model_fields[field]
    if isinstance(info.validation_alias, str):
        return info.validation_alias
    return f"{model.model_config.get('env_prefix') or ''}{field}".upper()


def settings_env(model: type[BaseSettings], **values: object) -> dict[str, str]:
    """Environment variables that give a process reading ``model`` these field values (how a supervisor
    configures a child process without spelling its prefix)."""
    return {env_name(model, field): str(value) for field, value in values.items()}


class IntakeSettings(BaseSettings):
    """The REST intake service."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(8000, description="Bind port.")
    api_keys_file: Path = Field(
        Path(".hotline/api-keys.json"),
        description="JSON file of API keys, stored as salted SHA-256 hashes (see `hotline keys`).",
    )
    max_batch: int = Field(1000, ge=1, description="Largest accepted POST /v1/calls/batch.")
    max_text_chars: int = Field(10_000, ge=1, description="Longest accepted subject+body text.")
    retry_after_seconds: int = Field(5, ge=1, description="Retry-After sent with 503 answers.")
    metrics_url: str = Field(
        "http://127.0.0.1:8001", description="The metrics read API, where Open311 reads cases (GET requests)."
    )
    open311_service_type: Literal["realtime", "batch"] = Field(
        "realtime",
        description="Open311 service type: realtime answers POST requests with service_request_id, "
        "batch with a token that GET tokens/{token} resolves once the case is stored.",
    )


class MetricsSettings(BaseSettings):
    """The metrics read API (the worker itself needs only Kafka and Mongo)."""

    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore")

    host: str = Field("127.0.0.1", description="Bind address of the read API and console page.")
    port: int = Field(8001, description="Bind port of the read API and console page.")
    batch_size: int = Field(500, ge=1, description="Events pre-aggregated in memory per database write.")
    batch_window_seconds: float = Field(0.05, gt=0, description="Longest wait to fill a batch.")


class Settings(ServiceSettings):
    """The old aggregate settings, kept only until every process reads its own ``ServiceSettings`` subclass."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_")

    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
