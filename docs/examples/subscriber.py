"""A downstream subscriber of a Hotline topic: copy it, change ``handle``, run it.

    pip install aiokafka
    python subscriber.py --bootstrap kafka:9092 --topic hotline.calls.routed.v1 --group my-team-routed

What it shows (docs/asyncapi.md):

- a consumer group of your own (never one of Hotline's ``hotline-*`` groups), starting from the **earliest**
  offset the first time it runs (``auto_offset_reset="earliest"``: you get the whole retained history), then
  from where it left off;
- offsets committed only **after** your handler succeeded (at-least-once: a crash re-delivers);
- **deduplication by ``event_id``**: Hotline delivers at least once and a replay re-sends events, so a
  message whose ``event_id`` you already handled is skipped. The ids are kept in SQLite (``--seen``), in the
  same place your handler writes, so the check survives restarts;
- readiness probes (``call.source_system == "hotline-probe"``) skipped.

Standard library + aiokafka only; the message format is in docs/asyncapi.yaml and docs/topics/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

PROBE_SOURCE_SYSTEM = "hotline-probe"
Handler = Callable[[dict[str, Any]], Awaitable[None]]


class SeenEvents:
    """The event ids already handled, in SQLite: ``first_time`` is True once per ``event_id``."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY)")

    def first_time(self, event_id: str) -> bool:
        with self.db:  # one transaction: commit when the insert took
            return self.db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (event_id,)).rowcount == 1


def is_probe(event: dict[str, Any]) -> bool:
    return (event.get("call") or {}).get("source_system") == PROBE_SOURCE_SYSTEM


async def subscribe(
    bootstrap: str,
    topic: str,
    group: str,
    handle: Handler,
    *,
    seen: SeenEvents,
    stop_after_idle: float | None = None,
) -> int:
    """Handle every new event of ``topic`` once; returns how many were handled (when ``stop_after_idle`` ends it)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",  # a new group starts at the beginning of the retained history
        enable_auto_commit=False,  # commit only what was handled
    )
    await consumer.start()
    handled = 0
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            if not batches and stop_after_idle is not None:
                stop_after_idle -= 1.0
                if stop_after_idle <= 0:
                    return handled
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    if is_probe(event) or not seen.first_time(event["event_id"]):
                        continue  # a probe, or a duplicate: at-least-once delivery, replays
                    await handle(event)
                    handled += 1
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()


async def print_event(event: dict[str, Any]) -> None:
    print(event.get("event_type"), event.get("call_id"), event.get("event_id"), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Subscribe to a Hotline topic, each event handled once.")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="hotline.calls.routed.v1")
    parser.add_argument("--group", required=True, help="your own consumer group id")
    parser.add_argument("--seen", default="seen-events.sqlite", help="SQLite file of the event ids handled")
    args = parser.parse_args()
    asyncio.run(subscribe(args.bootstrap, args.topic, args.group, print_event, seen=SeenEvents(args.seen)))


if __name__ == "__main__":
    main()
