"""docs/examples/subscriber.py, as a downstream team would run it: from the earliest offset, each event once."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from shared.events import probe_received
from tests import factories
from tests.conftest import Servers
from tests.helpers import REPO, produce

pytestmark = pytest.mark.integration


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hotline_example_subscriber", REPO / "docs" / "examples" / "subscriber.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_reads_from_the_earliest_offset_and_handles_each_event_once(
    servers: Servers, tmp_path: Path
) -> None:
    example = _example()
    topic = f"example-subscriber-{uuid.uuid4().hex[:8]}"  # auto-created by the first produce
    first = factories.received(factories.call(f"sub-{uuid.uuid4().hex[:6]}"))
    second = factories.received(factories.call(f"sub-{uuid.uuid4().hex[:6]}"))
    probe = probe_received()
    # produced before the subscriber ever ran: only the earliest offset finds them; `first` twice (a replay)
    await produce(
        servers.bootstrap_servers,
        topic,
        [(e.key(), e.to_bytes()) for e in (first, probe, first, second)],
    )
    handled: list[dict[str, Any]] = []

    async def handle(event: dict[str, Any]) -> None:
        handled.append(event)

    seen = example.SeenEvents(str(tmp_path / "seen.sqlite"))
    count = await example.subscribe(servers.bootstrap_servers, topic, "team-x", handle, seen=seen, stop_after_idle=5)
    assert count == 2
    # each once; their order is kept only per key (partition), and the two calls have different keys
    assert sorted(e["event_id"] for e in handled) == sorted([str(first.event_id), str(second.event_id)])
    # a replay after a restart (a new process, the same SQLite file) is skipped too
    await produce(servers.bootstrap_servers, topic, [(first.key(), first.to_bytes())])
    again = example.SeenEvents(str(tmp_path / "seen.sqlite"))
    assert (
        await example.subscribe(servers.bootstrap_servers, topic, "team-x", handle, seen=again, stop_after_idle=5) == 0
    )
