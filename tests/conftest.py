"""Session fixtures: real Kafka- and MongoDB-protocol servers on free loopback ports.

By default the embedded servers (Tansu, SecantusDB) are started as processes. Where a Docker engine
answers (or HOTLINE_TEST_ENGINE=testcontainers), the real Apache Kafka and MongoDB run through
testcontainers instead. HOTLINE_TEST_ENGINE=external uses KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI as set.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotline.embedded import EmbeddedStack, ensure_topics
from services.intake.settings import IntakeSettings
from shared import topics
from shared.settings import ServiceSettings
from tests.helpers import start_groups_at_end

REPO = Path(__file__).resolve().parents[1]
DOMAIN_DATA = REPO.parent / "shared" / "domain"


@dataclass(frozen=True)
class Servers:
    bootstrap_servers: str
    mongodb_uri: str


def _docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _engine() -> str:
    chosen = os.environ.get("HOTLINE_TEST_ENGINE")
    if chosen:
        return chosen
    return "testcontainers" if _docker_engine_answers() else "embedded"


@contextlib.contextmanager
def _testcontainers() -> Iterator[Servers]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with KafkaContainer().with_kraft() as kafka, MongoDbContainer("mongo:8").with_command("--replSet rs0") as mongo:
        mongo.exec('mongosh --quiet --eval "rs.initiate()"')
        yield Servers(kafka.get_bootstrap_server(), mongo.get_connection_url() + "/?directConnection=true")


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A real broker and database for the whole session, with the Hotline topics created."""
    engine = _engine()
    if engine == "external":
        settings = ServiceSettings()
        found = Servers(settings.kafka.bootstrap_servers, settings.mongodb.uri)
        ctx: contextlib.AbstractContextManager[Servers] = contextlib.nullcontext(found)
    elif engine == "testcontainers":
        ctx = _testcontainers()
    else:
        ctx = _embedded(tmp_path_factory.mktemp("embedded"))
    with ctx as running:
        import asyncio

        asyncio.run(ensure_topics(running.bootstrap_servers, topics.ALL_TOPICS, partitions=6, replication_factor=1))
        yield running


@contextlib.contextmanager
def _embedded(home: Path) -> Iterator[Servers]:
    stack = EmbeddedStack(home=home, database_storage=home / "db")
    stack.start()
    try:
        yield Servers(stack.bootstrap_servers, stack.mongodb_uri)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def server_env(servers: Servers) -> dict[str, str]:
    """Environment variables that point a Hotline process at the session's servers."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": servers.bootstrap_servers,
        "MONGODB_URI": servers.mongodb_uri,
        "KAFKA_PARTITIONS": "6",
    }


@pytest.fixture
async def worker_env(server_env: dict[str, str], servers: Servers) -> dict[str, str]:
    """``server_env`` plus consumer groups of this test's own (``KAFKA_GROUP_PREFIX``), starting at the topics'
    present ends: a worker the test starts neither waits for the rebalance of another test's worker that left
    the same group moments ago (the broker keeps a member until its session times out) nor re-reads what earlier
    tests put on the session's topics. Use the same value for every start of a worker within the test."""
    import uuid

    from hotline.platform import WORKERS
    from shared.settings import KafkaSettings

    kafka = KafkaSettings(group_prefix=f"test-{uuid.uuid4().hex[:10]}")
    await start_groups_at_end(servers.bootstrap_servers, [kafka.group_id(name) for name in WORKERS], topics.ALL_TOPICS)
    return {**server_env, "KAFKA_GROUP_PREFIX": kafka.group_prefix}


@pytest.fixture(scope="session")
def settings(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> ServiceSettings:
    """The platform-wide settings on the session's servers; a test builds a process's own class from them."""
    home = tmp_path_factory.mktemp("hotline-home")
    return ServiceSettings(
        home=home,
        kafka={"bootstrap_servers": servers.bootstrap_servers},
        mongodb={"uri": servers.mongodb_uri, "database": "hotline_test"},
    )


@pytest.fixture(scope="session")
def intake_settings(settings: ServiceSettings) -> IntakeSettings:
    """The intake's settings on the session's servers, with its key file in the session's home."""
    return IntakeSettings(
        home=settings.home,
        kafka=settings.kafka,
        mongodb=settings.mongodb,
        api_keys_file=settings.home / "api-keys.json",
    )


@pytest.fixture
async def mongo_db(settings: ServiceSettings) -> AsyncIterator[object]:
    """A fresh database per test (dropped afterwards), through PyMongo's async client."""
    import uuid

    from pymongo import AsyncMongoClient

    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb.uri)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


def domain_csv(name: str) -> Path:
    path = DOMAIN_DATA / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared/domain beside the repository")
    return path
