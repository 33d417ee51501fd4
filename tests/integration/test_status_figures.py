"""``hotline status``'s broker figures against a real broker: each group's lag, the calls of the last minute and
hour, the dead letters of the last hour (the e2e test runs the command against a running platform)."""

from __future__ import annotations

import uuid

import pytest

from hotline.status_cmd import broker_figures
from services.common.streaming import dead_letter
from shared import topics
from tests import factories
from tests.conftest import Servers
from tests.helpers import produce, start_groups_at_end

pytestmark = pytest.mark.integration


async def test_lag_calls_and_dead_letters_are_what_was_produced(servers: Servers) -> None:
    run = uuid.uuid4().hex[:8]
    group = f"status-figures-{run}"  # a group of this test's own, standing at the topic's present end
    await start_groups_at_end(servers.bootstrap_servers, [group], [topics.CALLS_RECEIVED])
    before = await broker_figures(servers.bootstrap_servers, {"classifier": group}, timeout=10)
    assert before["consumer_lag"]["classifier"] == {
        "group": group,
        "total": 0,
        "worst_partition": before["consumer_lag"]["classifier"]["worst_partition"],
        "worst": 0,
    }

    calls = [factories.received() for _ in range(3)]
    await produce(servers.bootstrap_servers, topics.CALLS_RECEIVED, [(c.key(), c.to_bytes()) for c in calls])
    letter = dead_letter("router", f"status figures {run}", source_topic=topics.CALLS_CLASSIFIED, original=b"{}")
    await produce(servers.bootstrap_servers, topics.DEADLETTER, [(None, letter.to_bytes())])
    after = await broker_figures(servers.bootstrap_servers, {"classifier": group}, timeout=10)

    lag = after["consumer_lag"]["classifier"]
    assert lag["total"] == 3 and 1 <= lag["worst"] <= 3
    assert lag["worst_partition"].startswith(f"{topics.CALLS_RECEIVED}[")
    # other tests of the session may have produced too: at least ours, and the hour holds the minute
    assert after["calls_last_minute"] is not None, "the broker answered no offsets by timestamp"
    assert after["calls_last_minute"] >= 3 and after["calls_last_hour"] >= after["calls_last_minute"]
    assert after["dead_letters_last_hour"] is not None and after["dead_letters_last_hour"] >= 1
