"""Start and stop the whole platform: embedded servers (unless configured), topics, the services.

``hotline up`` (what ``make run`` calls), the end-to-end tests and ``make bench`` all use this one
supervisor, so what is tested and measured is what an operator runs.

The supervisor holds the platform-wide settings and the settings of each process it must know about
(where intake, metrics and the console listen, where the key and user files are) and configures the
children through the environment: ``settings_env`` names each variable from the process's own settings
class, so the supervisor never spells a prefix of its own.

Size: ~500 lines — the supervisor (``Platform``: start order, readiness, restarts, replicas) and the
first-run secrets it creates (keys, session secret, demo supervisor) that every caller of it needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hotline.embedded import EmbeddedStack, ensure_topics, free_port, stop_process
from hotline.readiness import ProbeResult, probe_pipeline
from services.classifier.settings import ClassifierSettings
from services.console.settings import ConsoleSettings
from services.intake.settings import IntakeSettings
from services.metrics.settings import MetricsSettings
from services.router.settings import RouterSettings
from shared import topics
from shared.private_files import write_private_json
from shared.settings import (
    KafkaSettings,
    MongoSettings,
    ServiceSettings,
    settings_env,
)

# The processes of the platform: name -> python module run with ``python -m``.
SERVICES: dict[str, str] = {
    "intake": "services.intake",
    "classifier": "services.classifier",
    "router": "services.router",
    "metrics": "services.metrics",
    "metrics-api": "services.metrics.api",
    "console": "services.console",
}
# The faust workers, each with the settings class that names its /readyz and /metrics port.
WORKERS: dict[str, type[ClassifierSettings | RouterSettings | MetricsSettings]] = {
    "classifier": ClassifierSettings,
    "router": RouterSettings,
    "metrics": MetricsSettings,
}
# The processes that may run as several instances (``hotline up --replicas classifier=2``): the faust
# workers, which share their topics' partitions in one consumer group. The HTTP processes each bind a port.
SCALABLE: tuple[str, ...] = tuple(WORKERS)
# Where `hotline up` puts the workers' /readyz and /metrics when the environment does not say (a second
# instance, ``router-2``, gets a free port).
DEFAULT_WORKER_PORTS = {"classifier": 8011, "router": 8012, "metrics": 8013}
# Written into the platform's home while it runs: where everything is (what `hotline status` reads).
STATE_FILE = "platform.json"
DEV_KEY_FILE = "dev-api-key"
DEMO_SUPERVISOR = "supervisor"
DEMO_SUPERVISOR_PASSWORD_FILE = "console-supervisor-password"
SERVICE_KEYS_FILE = "service-keys.json"  # the plain read keys of the console and Open311 (0600)
SESSION_SECRET_FILE = "console-session-secret"  # the console's per-installation session secret (0600)
CONSOLE_READER, OPEN311_READER = "console", "open311"


@dataclass
class ServiceProcess:
    name: str
    module: str
    log_path: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)  # this instance's own variables (its web port)

    def start(self, env: Mapping[str, str], cwd: Path) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module],
                cwd=cwd,
                env={**env, **self.extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=15)


@dataclass
class Platform:
    """A running Hotline: where it is, and the processes it owns."""

    settings: ServiceSettings
    home: Path
    embedded_kafka: bool
    embedded_mongodb: bool
    intake: IntakeSettings
    metrics: MetricsSettings
    console: ConsoleSettings
    cwd: Path = field(default_factory=Path.cwd)
    # Ports of the workers' /readyz and /metrics; by default free ones (tests, bench), `hotline up` reads them.
    worker_ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in WORKERS})
    # Send a probe call through the pipeline before start() returns (see hotline.readiness).
    probe: bool = True
    stack: EmbeddedStack | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    service_keys: dict[str, str] = field(default_factory=dict)  # reader -> its read:all key of the metrics API
    session_secret: str = ""  # the console's, per installation
    replicas: dict[str, int] = field(default_factory=dict)  # instances per scalable process (default 1)
    probe_result: ProbeResult | None = None
    # Start only these of SERVICES (``hotline bench intake --only-intake``); None: all of them.
    only: frozenset[str] | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Platform:
        """The platform the environment describes (every settings class read here, once). Embedded servers are
        used for whatever ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI`` do not name."""
        environ = os.environ if environ is None else environ
        settings = ServiceSettings()
        return cls(
            settings=settings,
            home=settings.home.resolve(),
            embedded_kafka="KAFKA_BOOTSTRAP_SERVERS" not in environ,
            embedded_mongodb="MONGODB_URI" not in environ,
            intake=IntakeSettings(),
            metrics=MetricsSettings(),
            console=ConsoleSettings(),
            worker_ports={name: cls().web_port or DEFAULT_WORKER_PORTS[name] for name, cls in WORKERS.items()},
        )

    @property
    def bootstrap_servers(self) -> str:
        return (
            self.stack.bootstrap_servers
            if self.stack and self.embedded_kafka
            else self.settings.kafka.bootstrap_servers
        )

    @property
    def mongodb_uri(self) -> str:
        return self.stack.mongodb_uri if self.stack and self.embedded_mongodb else self.settings.mongodb.uri

    @property
    def intake_url(self) -> str:
        return f"http://{self.intake.host}:{self.intake.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.metrics.host}:{self.metrics.port}"

    @property
    def console_url(self) -> str:
        return f"http://{self.console.host}:{self.console.port}"

    @property
    def console_users_file(self) -> Path:
        """The console's users file: as configured when absolute, else in the platform's home."""
        path = self.console.users_file
        return path if path.is_absolute() else self.home / path.name

    def start(self, *, timeout: float = 90.0) -> None:
        """Start servers, create topics, start every service and wait until all are ready: every HTTP service's
        and every worker's ``/readyz`` answers 200, then (``probe``) a probe call went through the pipeline."""
        self.home.mkdir(parents=True, exist_ok=True)
        ports = (
            ("intake", self.intake.port),
            ("metrics-api", self.metrics.port),
            ("console", self.console.port),
            *self.worker_ports.items(),
        )
        for name, port in ports:
            if _port_in_use(port):
                raise RuntimeError(f"port {port} for {name} is already in use: stop what holds it or set the port")
        if self.embedded_kafka or self.embedded_mongodb:
            self.stack = EmbeddedStack(home=self.home)  # assigned first: stop() cleans up a half-started stack
            self.stack.start(broker=self.embedded_kafka, database=self.embedded_mongodb)
        asyncio.run(
            ensure_topics(
                self.bootstrap_servers,
                topics.ALL_TOPICS,
                partitions=self.settings.kafka.partitions,
                replication_factor=self.settings.kafka.replication_factor,
            )
        )
        self.service_keys = ensure_service_keys(self)
        self.session_secret = ensure_session_secret(self)
        self.env = {**os.environ, **self.process_env(), "PYTHONUNBUFFERED": "1"}
        for name, module in SERVICES.items():
            if self.only is not None and name not in self.only:
                continue
            for instance in instance_names(name, self.replicas.get(name, 1)):
                service = ServiceProcess(instance, module, self.home / "logs" / f"{instance}.log")
                if name in WORKERS:  # each instance serves its /readyz and /metrics on a port of its own
                    port = self.worker_ports.setdefault(instance, free_port())
                    service.extra_env = settings_env(WORKERS[name], web_port=port)
                service.start(self.env, self.cwd)
                self.services[instance] = service
        started = time.monotonic()
        self.wait_ready(timeout=timeout)
        if self.probe:
            remaining = max(5.0, timeout - (time.monotonic() - started))
            try:
                self.probe_result = asyncio.run(
                    probe_pipeline(
                        self.bootstrap_servers, metrics_group=self.settings.kafka.group_id("metrics"), timeout=remaining
                    )
                )
            except Exception as exc:
                raise RuntimeError(f"the probe call did not go through: {exc} (logs in {self.home / 'logs'})") from exc
        (self.home / STATE_FILE).write_text(json.dumps(self.describe(), indent=2) + "\n")

    def describe(self) -> dict[str, object]:
        """Where the running platform is: the broker, the database's name, every process's base URL."""
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "database": self.settings.mongodb.database,
            "urls": self.urls,
        }

    @property
    def urls(self) -> dict[str, str]:
        """Every process's base URL (``/readyz``, ``/metrics``), by service name."""
        http = {"intake": self.intake_url, "metrics-api": self.metrics_url, "console": self.console_url}
        return {**http, **{instance: self.worker_url(instance) for instance in self.worker_ports}}

    def process_env(self) -> dict[str, str]:
        """What the supervisor sets for its processes, each variable named by the settings class that reads it."""
        return {
            **settings_env(
                KafkaSettings, bootstrap_servers=self.bootstrap_servers, partitions=self.settings.kafka.partitions
            ),
            **settings_env(MongoSettings, uri=self.mongodb_uri, database=self.settings.mongodb.database),
            **settings_env(ServiceSettings, home=self.home),
            **settings_env(
                type(self.intake),
                host=self.intake.host,
                port=self.intake.port,
                api_keys_file=self.api_keys_file,
                metrics_url=self.metrics_url,  # Open311 reads cases through the metrics read API
                metrics_api_key=self.service_keys.get(OPEN311_READER, ""),
            ),
            **settings_env(
                type(self.metrics), host=self.metrics.host, port=self.metrics.port, api_keys_file=self.api_keys_file
            ),
            **settings_env(
                type(self.console),
                host=self.console.host,
                port=self.console.port,
                intake_url=self.intake_url,
                metrics_url=self.metrics_url,
                users_file=self.console_users_file,
                intake_api_keys_file=self.api_keys_file,
                metrics_api_key=self.service_keys.get(CONSOLE_READER, ""),
                session_secret=self.session_secret,
                revoked_sessions_file=self.home / "console-revoked-sessions.json",
            ),
        }

    @property
    def api_keys_file(self) -> Path:
        path = self.intake.api_keys_file
        return path if path.is_absolute() else (self.cwd / path).resolve()

    def wait_ready(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.services)
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                service = self.services[name]
                if not service.running:
                    raise RuntimeError(
                        f"{name} exited during start-up; see {service.log_path}:\n{_tail(service.log_path)}"
                    )
                if self._is_ready(name):
                    pending.discard(name)
            time.sleep(0.2)
        if pending:
            raise RuntimeError(
                f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))} (logs in {self.home / 'logs'})"
            )

    def _is_ready(self, name: str) -> bool:
        if name == "intake":
            return _http_ok(self.intake_url + "/readyz")
        if name == "metrics-api":
            return _http_ok(self.metrics_url + "/readyz")
        if name == "console":
            return _http_ok(self.console_url + "/readyz")
        return _http_ok(self.worker_url(name) + "/readyz")

    def worker_url(self, name: str) -> str:
        """Where the worker ``name`` serves ``/readyz`` and ``/metrics``."""
        return f"http://127.0.0.1:{self.worker_ports[name]}"

    @property
    def metrics_endpoints(self) -> dict[str, str]:
        """Every process's Prometheus ``/metrics`` URL, by service name."""
        return {name: url + "/metrics" for name, url in self.urls.items()}

    def restart_dead(self, *, max_restarts: int = 5) -> list[str]:
        """Restart services that died (a supervisor's job); returns the names restarted."""
        restarted = []
        for service in self.services.values():
            if not service.running and service.restarts < max_restarts:
                service.restarts += 1
                service.start(self.env, self.cwd)
                restarted.append(service.name)
        return restarted

    def stop(self) -> None:
        """Stop the services first (they flush and commit), then the broker and the database."""
        (self.home / STATE_FILE).unlink(missing_ok=True)
        for service in reversed(list(self.services.values())):
            service.stop()
        if self.stack is not None:
            self.stack.stop()


def instance_names(name: str, count: int) -> list[str]:
    """The processes of ``count`` instances of ``name``: ``router``, ``router-2``, ``router-3``..."""
    return [name] + [f"{name}-{n}" for n in range(2, count + 1)]


def parse_replicas(text: str) -> dict[str, int]:
    """``classifier=2,router=2,metrics=2`` as a mapping; only the faust workers (``SCALABLE``) may have several."""
    replicas: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        name = name.strip()
        if name not in SCALABLE:
            raise ValueError(f"{name!r} cannot run as several instances; these can: {', '.join(SCALABLE)}")
        if not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"{part!r}: give a number of instances of 1 or more, e.g. {name}=2")
        replicas[name] = int(count)
    return replicas


def replicas_argument(text: str) -> dict[str, int]:
    """``parse_replicas`` for argparse: a refused value is reported with its reason."""
    try:
        return parse_replicas(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def locate(environ: Mapping[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """Where a running platform is, for the operator's commands (``hotline status``, ``hotline deadletter``): the
    broker's address and every process's base URL, from ``hotline up``'s state file in ``HOTLINE_HOME`` when the
    environment names no broker, else from the environment."""
    environ = os.environ if environ is None else environ
    platform = Platform.from_environment(environ)
    state = platform.home / STATE_FILE
    if state.exists() and "KAFKA_BOOTSTRAP_SERVERS" not in environ:
        described = json.loads(state.read_text())
        return str(described["bootstrap_servers"]), dict(described["urls"])
    return platform.bootstrap_servers, platform.urls


@contextlib.contextmanager
def running_platform(platform: Platform, *, timeout: float = 90.0) -> Iterator[Platform]:
    try:
        platform.start(timeout=timeout)
        yield platform
    finally:
        platform.stop()


def ensure_dev_key(platform: Platform) -> str:
    """The development API key: created once, stored hashed for intake, and its plain form kept in
    ``<home>/dev-api-key`` (mode 0600) so that ``make run`` can print it every time."""
    from shared.api_keys import create_key, load_keys

    plain_file = platform.home / DEV_KEY_FILE
    if plain_file.exists() and platform.api_keys_file.exists():
        plain = plain_file.read_text().strip()
        names = {record.name for record in load_keys(platform.api_keys_file)}
        if "dev" in names and plain:
            return plain
    plain = create_key(platform.api_keys_file, "dev", ("calls:write",))
    plain_file.write_text(plain + "\n")
    plain_file.chmod(0o600)
    return plain


def ensure_service_keys(platform: Platform) -> dict[str, str]:
    """The metrics read API keys (scope read:all) of the console and of intake's Open311: created once, stored
    hashed in the key file, their plain forms kept in ``<home>/service-keys.json`` (mode 0600)."""
    from shared.api_keys import READ_ALL, create_key, load_keys, verify

    path = platform.home / SERVICE_KEYS_FILE
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = {}
    kept = kept if isinstance(kept, dict) else {}
    records = load_keys(platform.api_keys_file)
    keys: dict[str, str] = {}
    for reader in (CONSOLE_READER, OPEN311_READER):
        plain = kept.get(reader)
        record = verify(records, plain) if isinstance(plain, str) else None
        if record is None or not record.reads_everything:
            plain = create_key(platform.api_keys_file, f"{reader}:metrics-reader", (READ_ALL,))
        keys[reader] = str(plain)
    if keys != kept:
        write_private_json(path, keys)
    return keys


def metrics_read_headers(home: Path) -> dict[str, str]:
    """The X-API-Key header of the read:all key ``hotline up`` made for the console (``<home>/service-keys.json``),
    for tools on the same machine (``hotline status``, the tests); no header when there is none."""
    try:
        keys = json.loads((home / SERVICE_KEYS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    key = keys.get(CONSOLE_READER) if isinstance(keys, dict) else None
    return {"X-API-Key": str(key)} if key else {}


def ensure_session_secret(platform: Platform) -> str:
    """The console's session secret: the configured one, else one generated for this installation (32 random
    bytes) and kept in ``<home>/console-session-secret`` (mode 0600) so sessions survive a restart."""
    if platform.console.session_secret:
        return platform.console.session_secret
    path = platform.home / SESSION_SECRET_FILE
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        secret = ""
    if len(secret) < 32:
        secret = secrets.token_urlsafe(32)
        platform.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
    path.chmod(0o600)
    return secret


def ensure_demo_supervisor(platform: Platform) -> tuple[str, str]:
    """The console's demo supervisor: created on first run with a random password, kept in plain form in
    ``<home>/console-supervisor-password`` (mode 0600) so that ``hotline up`` can print it every time."""
    from services.console.users import Role, add_user_with_intake_key, load_users

    plain_file = platform.home / DEMO_SUPERVISOR_PASSWORD_FILE
    if plain_file.exists() and DEMO_SUPERVISOR in load_users(platform.console_users_file):
        password = plain_file.read_text().strip()
        if password:
            return DEMO_SUPERVISOR, password
    password = secrets.token_urlsafe(12)
    add_user_with_intake_key(
        platform.console_users_file,
        platform.api_keys_file,
        name=DEMO_SUPERVISOR,
        role=Role.supervisor,
        queue=None,
        password=password,
    )
    platform.home.mkdir(parents=True, exist_ok=True)
    plain_file.write_text(password + "\n")
    plain_file.chmod(0o600)
    return DEMO_SUPERVISOR, password


def _port_in_use(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, json.JSONDecodeError):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
