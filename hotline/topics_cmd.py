"""``hotline topics``: create the Hotline topics on the configured broker (safe to run again)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from hotline.embedded import ensure_topics
from shared import topics
from shared.settings import KafkaSettings


async def create_topics_when_reachable(
    bootstrap_servers: str, *, partitions: int, replication_factor: int, wait_seconds: float
) -> list[str]:
    """Create the missing Hotline topics, retrying while the broker is not reachable yet."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    while True:
        try:
            return await ensure_topics(
                bootstrap_servers, topics.ALL_TOPICS, partitions=partitions, replication_factor=replication_factor
            )
        except Exception as exc:
            if time.monotonic() + delay > deadline:
                raise
            print(f"broker {bootstrap_servers} not ready ({type(exc).__name__}: {exc}); retrying", file=sys.stderr)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partitions", type=int, default=None, help="partitions per topic (default: KAFKA_PARTITIONS)")
    parser.add_argument(
        "--replication-factor", type=int, default=None, help="replication factor (default: KAFKA_REPLICATION_FACTOR)"
    )
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to keep retrying an unreachable broker")


def run(args: argparse.Namespace) -> int:
    kafka = KafkaSettings()
    partitions = args.partitions or kafka.partitions
    replication_factor = args.replication_factor or kafka.replication_factor
    if partitions < 1 or replication_factor < 1:
        print("partitions and replication factor must be at least 1", file=sys.stderr)
        return 2
    try:
        created = asyncio.run(
            create_topics_when_reachable(
                kafka.bootstrap_servers,
                partitions=partitions,
                replication_factor=replication_factor,
                wait_seconds=args.wait,
            )
        )
    except Exception as exc:
        print(f"could not create topics on {kafka.bootstrap_servers}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for name in topics.ALL_TOPICS:
        state = f"created ({partitions} partitions, replication {replication_factor})" if name in created else "exists"
        print(f"{name}: {state}")
    return 0
