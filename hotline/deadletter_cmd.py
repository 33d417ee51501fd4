"""``hotline deadletter``: list the dead letters, and replay the ones a filter picks after the cause was fixed.

``list`` prints the dead letters on ``hotline.deadletter.v1`` (one line each, or JSON lines with ``--json``);
``replay`` re-publishes each picked dead letter's original bytes to its source topic with its original key
(acks=all), so the consumer that gave up on it processes it again. Replaying is safe: every Hotline
consumer is idempotent, so a message that had in fact been processed changes nothing. A message that fails
again is dead-lettered again (a new dead letter, newer than the replay): narrow the next replay with
``--since``.

Filters (all must match): ``--service``, ``--source-topic``, ``--reason`` (substring, any case), ``--key``,
``--since`` / ``--until`` (when it was dead-lettered, ISO 8601). ``replay`` refuses to run without a filter
unless ``--all`` is given, and ``--dry-run`` only lists what it would replay.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from hotline.embedded import topic_partitions
from hotline.platform import locate
from shared import topics
from shared.clock import as_utc
from shared.events import DeadLetter


@dataclass(frozen=True, slots=True)
class Filter:
    """Which dead letters a command picks; an unset field matches every dead letter."""

    service: str | None = None
    source_topic: str | None = None
    reason: str | None = None
    key: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (self.service is None or letter.service == self.service)
            and (self.source_topic is None or letter.source_topic == self.source_topic)
            and (self.reason is None or self.reason.lower() in letter.reason.lower())
            and (self.key is None or letter.key == self.key)
            and (self.since is None or letter.occurred_at >= self.since)
            and (self.until is None or letter.occurred_at < self.until)
        )

    @property
    def empty(self) -> bool:
        return all(
            value is None for value in (self.service, self.source_topic, self.reason, self.key, self.since, self.until)
        )


async def read_dead_letters(bootstrap_servers: str, timeout: float = 10.0) -> list[DeadLetter]:
    """Every dead letter on the topic now (from the first retained offset to the end); records that are not
    dead letters are skipped."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topics.DEADLETTER)
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        letters: list[DeadLetter] = []
        quiet_polls = 0
        # Until every partition is read to its end offset (asked again each round: a broker may report a
        # just-written record's offset a moment late) and two polls in a row brought nothing.
        while quiet_polls < 2:
            batches = await asyncio.wait_for(consumer.getmany(timeout_ms=500), timeout)
            for tp, records in batches.items():
                for record in records:
                    try:
                        letters.append(DeadLetter.model_validate_json(record.value or b""))
                    except ValidationError:
                        print(
                            f"skipped a record that is not a dead letter at {tp.partition}/{record.offset}",
                            file=sys.stderr,
                        )
            ends = await consumer.end_offsets(partitions)
            behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
            quiet_polls = 0 if batches or behind else quiet_polls + 1
        return sorted(letters, key=lambda letter: letter.occurred_at)
    finally:
        await consumer.stop()


async def replay(bootstrap_servers: str, letters: list[DeadLetter]) -> int:
    """Re-publish each dead letter's original bytes to its source topic with its key; the number acknowledged."""
    if not letters:
        return 0
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(
                letter.source_topic,
                base64.b64decode(letter.original_b64),
                key=letter.key.encode() if letter.key is not None else None,
            )
            for letter in letters
        ]
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


def _when(text: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time, e.g. 2026-05-01T08:00:00+08:00") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    listing = sub.add_parser(
        "list", help="print the dead letters a filter picks", description="print the dead letters a filter picks"
    )
    again = sub.add_parser(
        "replay",
        help="re-publish the picked dead letters' original bytes to their source topics",
        description="re-publish the picked dead letters' original bytes to their source topics (after the fix)",
    )
    for command in (listing, again):
        command.add_argument("--service", help="the consumer that gave up (classifier, router, metrics)")
        command.add_argument("--source-topic", help="the topic the message came from")
        command.add_argument("--reason", help="a part of the reason (any case)")
        command.add_argument("--key", help="the message key (normally a call_id)")
        command.add_argument("--since", type=_when, help="dead-lettered at or after this time (ISO 8601)")
        command.add_argument("--until", type=_when, help="dead-lettered before this time (ISO 8601)")
        command.add_argument("--json", action="store_true", help="one JSON object per dead letter")
    again.add_argument("--all", action="store_true", help="replay every dead letter (no filter)")
    again.add_argument("--dry-run", action="store_true", help="only list what would be replayed")


def _lines(letters: list[DeadLetter], as_json: bool) -> Iterator[str]:
    for letter in letters:
        if as_json:
            yield json.dumps(letter.model_dump(mode="json"), ensure_ascii=False)
        else:
            when = letter.occurred_at.isoformat(timespec="seconds")
            yield f"{when}  {letter.service:<10}  {letter.source_topic}  key={letter.key}  {letter.reason[:160]}"


def run(args: argparse.Namespace) -> int:
    chosen = Filter(args.service, args.source_topic, args.reason, args.key, args.since, args.until)
    if args.action == "replay" and chosen.empty and not args.all:
        print("hotline deadletter replay: give a filter (or --all to replay every dead letter)", file=sys.stderr)
        return 2
    bootstrap_servers, _urls = locate()
    letters = [letter for letter in asyncio.run(read_dead_letters(bootstrap_servers)) if chosen.matches(letter)]
    for line in _lines(letters, args.json):
        print(line)
    if args.action == "list" or args.dry_run:
        print(f"{len(letters)} dead letters{' would be replayed' if args.action == 'replay' else ''}", file=sys.stderr)
        return 0
    replayed = asyncio.run(replay(bootstrap_servers, letters))
    print(f"replayed {replayed} dead letters to their source topics", file=sys.stderr)
    return 0
