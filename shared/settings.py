"""What every Hotline process's settings share, read from the environment (pydantic-settings).

Each process has ONE settings class, ``services/<service>/settings.py``, subclassing ``ServiceSettings``
with its one prefix ``HOTLINE_<SERVICE>_``; it is built once in the process's entry point and passed down.
``ServiceSettings`` carries the platform-wide ``HOTLINE_*`` fields and nests the Kafka (``KAFKA_*``) and
MongoDB (``MONGODB_*``) groups, so ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URI`` point the same code at
real Apache Kafka and MongoDB instead of the embedded servers. ``env_name`` / ``settings_env`` name a
field's variable, for the supervisor (``hotline/platform.py``) and the generated ``docs/configuration.md``.
"""

from __future__ import annotations

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
    group_prefix: str = Field(
        "hotline",
        min_length=1,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Prefix of each worker's consumer group and faust app id (<prefix>-<service>, e.g. "
        "hotline-router): two platforms (or two test runs) sharing one broker each take their own.",
    )
    offset_check_seconds: float = Field(
        10.0,
        gt=0,
        description="How often a worker asks the broker its cluster id and compares its offsets with the logs' "
        "ends: a new id, or a position past the end, means the broker lost its logs (a restarted in-memory "
        "broker), and the worker reads what it holds again from the earliest offset.",
    )

    def group_id(self, service: str) -> str:
        """The consumer group (and faust app id) of ``service``'s worker."""
        return f"{self.group_prefix}-{service}"

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
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        validation_alias="HOTLINE_LOG_FORMAT",
        description="Log lines: json (one object per line), text, or auto (text on a terminal, else JSON).",
    )
    otlp_endpoint: str | None = Field(
        None,
        validation_alias="HOTLINE_OTLP_ENDPOINT",
        description="OTLP/HTTP traces URL (e.g. http://otel-collector:4318/v1/traces); unset: no tracing.",
    )
    forwarded_allow_ips: str | None = Field(
        None,
        validation_alias="HOTLINE_FORWARDED_ALLOW_IPS",
        description="Reverse proxies whose X-Forwarded-For/-Proto the HTTP services trust (comma list of addresses, "
        "or * behind a proxy that is the only way in); unset: none, the client is the connecting address (the "
        "console's sign-in throttle and the logs see it).",
    )
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


class WorkerSettings(ServiceSettings):
    """The base of a faust worker's settings class: where its small HTTP server (``/readyz``, ``/metrics``) listens.

    No port, no server: a worker started by hand or by a test serves nothing; ``hotline up`` gives each worker
    a port (``docs/operations.md``).
    """

    web_host: str = Field("127.0.0.1", description="Bind address of the worker's /readyz and /metrics.")
    web_port: int | None = Field(
        None, ge=0, le=65535, description="Port of the worker's /readyz and /metrics; unset: no HTTP server."
    )


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
