"""Helpers for integration and end-to-end tests: run a service as a process, read a topic back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hotline.embedded import log_ends, stop_process, topic_partitions

REPO = Path(__file__).resolve().parents[1]

T = TypeVar("T")


def run_hotline(
    *args: str, stdin: str | None = None, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hotline.cli ARGS`` from the repository as a user would (``check``: a non-zero exit fails)."""
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        check=check,
    )


def present(document: T | None) -> T:
    """``document``, failing the test when it is missing (``find_one`` answered None)."""
    assert document is not None, "no such document"
    return document


@contextlib.contextmanager
def run_service(module: str, env: dict[str, str], log_path: Path, *args: str) -> Iterator[subprocess.Popen]:
    """Run ``python -m module`` with ``env`` added to this environment; stopped (SIGTERM) afterwards.

    The output goes to ``log_path``; on failure, read it to see why.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop_process(proc, timeout=15)


async def produce(bootstrap: str, topic: str, items: Sequence[tuple[bytes | None, bytes]]) -> None:
    """Produce (key, value) pairs with acks=all and wait for every acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in items]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def start_groups_at_end(bootstrap: str, groups: Sequence[str], topic_names: Sequence[str]) -> None:
    """Commit, for each of ``groups``, the present end of every partition of ``topic_names``: a worker joining one
    of those groups for the first time starts with what is produced from now on."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = [tp for topic in topic_names for tp in await topic_partitions(reader, topic)]
        ends = await log_ends(reader, partitions)
    finally:
        await reader.stop()
    for group in groups:
        committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await committer.start()
        try:
            committer.assign(partitions)
            await committer.commit(dict(ends))
        finally:
            await committer.stop()


def _kept(keep: Callable[[bytes], bool], value: bytes) -> bool:
    """``keep(value)``, with a value it cannot parse counted as not kept: the tests share one broker, and some put
    poison on the pipeline's topics on purpose (an e2e test puts ``not json`` on the classified topic)."""
    try:
        return keep(value)
    except ValueError:  # json.JSONDecodeError, pydantic's ValidationError
        return False


async def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[bytes]], bool],
    *,
    keep: Callable[[bytes], bool] = lambda _value: True,
    timeout: float = 30.0,
) -> list[bytes]:
    """Read ``topic`` from the beginning of every partition (no consumer group), as a downstream system
    would, keeping the values ``keep`` accepts, until ``until(kept)`` is true or ``timeout`` passes."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    kept: list[bytes] = []
    try:
        partitions = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + timeout
        while not partitions and time.monotonic() < deadline:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic)
            await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in sorted(partitions or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while time.monotonic() < deadline and not until(kept):
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                kept.extend(m.value for m in messages if m.value is not None and _kept(keep, m.value))
        return kept
    finally:
        await consumer.stop()
