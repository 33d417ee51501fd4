"""hotline deadletter: a filter picks dead letters, replay puts their original bytes back on their topics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from hotline.deadletter_cmd import Filter, read_dead_letters, replay
from services.common.streaming import dead_letter
from shared import topics
from tests.conftest import Servers
from tests.helpers import REPO, produce, read_topic

pytestmark = pytest.mark.integration


async def test_a_filtered_replay_republishes_only_the_picked_letters(
    servers: Servers, server_env: dict[str, str]
) -> None:
    run = uuid.uuid4().hex[:8]
    source = f"replay-source-{run}"  # a topic of this test only (auto-created)
    wanted = dead_letter(
        "router", f"unknown street {run}", source_topic=source, original=b'{"n": 1}', key=f"call-{run}-1"
    )
    other_reason = dead_letter(
        "router", f"broken json {run}", source_topic=source, original=b'{"n": 2}', key=f"call-{run}-2"
    )
    other_service = dead_letter(
        "metrics", f"unknown street {run}", source_topic=source, original=b'{"n": 3}', key=f"call-{run}-3"
    )
    await produce(
        servers.bootstrap_servers,
        topics.DEADLETTER,
        [(d.key.encode() if d.key else None, d.to_bytes()) for d in (wanted, other_reason, other_service)],
    )

    everything = await read_dead_letters(servers.bootstrap_servers)
    assert {wanted.event_id, other_reason.event_id, other_service.event_id} <= {d.event_id for d in everything}
    chosen = Filter(service="router", reason=f"UNKNOWN street {run}", since=datetime.now(UTC) - timedelta(minutes=5))
    picked = [d for d in everything if chosen.matches(d)]
    assert [d.event_id for d in picked] == [wanted.event_id]
    assert not Filter(until=datetime.now(UTC) - timedelta(days=1)).matches(wanted)

    assert await replay(servers.bootstrap_servers, picked) == 1
    values = await read_topic(servers.bootstrap_servers, source, lambda kept: len(kept) >= 1, keep=lambda v: True)
    assert values == [b'{"n": 1}']

    # the command line: list as JSON lines, replay refused without a filter, a dry run replays nothing
    env = {**os.environ, **server_env}
    listed = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "deadletter", "list", "--source-topic", source, "--json"],
        env=env, cwd=REPO, capture_output=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr.decode()
    assert {json.loads(line)["key"] for line in listed.stdout.splitlines()} == {f"call-{run}-{n}" for n in (1, 2, 3)}
    refused = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "deadletter", "replay"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert refused.returncode == 2 and b"give a filter" in refused.stderr
    dry = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "deadletter", "replay", "--source-topic", source, "--service", "metrics", "--dry-run"],
        env=env, cwd=REPO, capture_output=True, timeout=120,
    )  # fmt: skip
    assert dry.returncode == 0 and b"1 dead letters would be replayed" in dry.stderr, dry.stderr.decode()
