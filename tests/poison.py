"""Poison messages for every input topic of the agents (issue 12): what the fault tests flood the topics with.

Five kinds: random bytes, truncated JSON, the wrong schema, absurd dates (year 1 and 9999 with ±14:00
offsets, 1900, 2100) and absurd sizes (a body or note of a million characters). Each message has its own
key, ``poison-<topic>-<kind>-<n>``, so a test can find every one of them on ``hotline.deadletter.v1``.
"""

from __future__ import annotations

import json
import random
from typing import Any

from shared import topics
from shared.events import CaseEventKind
from tests import factories

KINDS = ("random_bytes", "truncated", "wrong_schema", "absurd_date", "oversized")

ABSURD_DATES = (
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59Z",
    "1900-01-01T00:00:00Z",
    "2100-06-01T00:00:00Z",
)

# Which consumer dead-letters what arrives on each input topic (the router only skips bad case events).
OWNERS: dict[str, str] = {
    topics.CALLS_RECEIVED: "classifier",
    topics.CALLS_CLASSIFIED: "router",
    topics.CALLS_ROUTED: "metrics",
    topics.CASES_EVENTS: "metrics",
    topics.PROGRAMME_EVENTS: "metrics",
}
INPUT_TOPICS = tuple(OWNERS)


def valid_event(topic: str, n: int) -> dict[str, Any]:
    """A valid event of ``topic`` as JSON data (the base each poison message is spoiled from)."""
    external_id = f"poison-base-{n}"
    if topic == topics.CALLS_RECEIVED:
        event: Any = factories.received(factories.call(external_id))
    elif topic == topics.CALLS_CLASSIFIED:
        event = factories.classified(factories.call(external_id))
    elif topic == topics.CALLS_ROUTED:
        event = factories.routed(external_id)
    elif topic == topics.CASES_EVENTS:
        event = factories.case_step(factories.received(factories.call(external_id)), CaseEventKind.accepted)
    elif topic == topics.PROGRAMME_EVENTS:
        event = factories.programme_update()
    else:
        raise ValueError(f"no agent consumes {topic}")
    data: dict[str, Any] = json.loads(event.to_bytes())
    return data


def key_of(topic: str, kind: str, n: int) -> bytes:
    return f"poison-{topic}-{kind}-{n}".encode()


def poison(topic: str, kind: str, n: int, rng: random.Random) -> bytes:
    """The ``n``-th poison message of ``kind`` for ``topic``."""
    data = valid_event(topic, n)
    if kind == "random_bytes":
        return rng.randbytes(rng.randint(1, 200))
    if kind == "truncated":
        whole = json.dumps(data, ensure_ascii=False).encode()
        return whole[: rng.randint(1, len(whole) - 2)]
    if kind == "wrong_schema":
        choices: list[Any] = [
            {**data, "call_id": "not-a-uuid", "problem_id": ""},
            {"event_type": data.get("event_type"), "unexpected": n},
            [data],
            "a string",
            n,
            None,
        ]
        return json.dumps(choices[n % len(choices)]).encode()
    if kind == "absurd_date":
        when = ABSURD_DATES[n % len(ABSURD_DATES)]
        if "call" in data:
            data["call"]["received_at"] = when
        else:
            data["occurred_at"] = when
        return json.dumps(data, ensure_ascii=False).encode()
    if kind == "oversized":
        huge = "x" * 1_000_000
        if "call" in data:
            data["call"]["body"] = huge
        else:
            data["note"] = huge
        return json.dumps(data, ensure_ascii=False).encode()
    raise ValueError(f"unknown poison kind {kind!r}")


def messages(topic: str, per_kind: int, *, seed: int = 12) -> list[tuple[bytes, bytes]]:
    """``per_kind`` poison messages of every kind for ``topic``, as (key, value); oversized ones at most 3
    (each is ~1 MB: the broker's own limit decides whether it is even accepted)."""
    rng = random.Random(seed)
    out: list[tuple[bytes, bytes]] = []
    for kind in KINDS:
        count = min(per_kind, 3) if kind == "oversized" else per_kind
        out.extend((key_of(topic, kind, n), poison(topic, kind, n, rng)) for n in range(count))
    return out
