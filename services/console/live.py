"""The live feed: one poller per console process reads the metrics API's queues and wakes subscribers.

Every open page holds a server-sent-events stream of the console (``GET /live/queues``); the poller
runs only while someone listens, and a subscriber is woken only when a queue actually changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from services.console.clients import MetricsClient, UpstreamError

log = logging.getLogger(__name__)

VOLATILE = ("age_seconds", "generated_at")


def stable(queues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The queues without the fields that change every instant (ages), to detect real changes."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        return value

    return [strip(q) for q in queues]


class LiveQueues:
    """Polls ``/v1/queues`` every ``poll_seconds`` while subscribed, and publishes each change."""

    def __init__(self, metrics: MetricsClient, poll_seconds: float) -> None:
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.snapshot: list[dict[str, Any]] | None = None
        self.version = 0
        self.subscribers = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        while self.subscribers > 0:
            try:
                queues = await self.metrics.queues()
            except UpstreamError as exc:
                log.warning("live feed: %s", exc.detail)
            else:
                if self.snapshot is None or stable(queues) != stable(self.snapshot):
                    async with self._changed:
                        self.snapshot = queues
                        self.version += 1
                        self._changed.notify_all()
            await asyncio.sleep(self.poll_seconds)
        self._task = None

    async def subscribe(self, *, heartbeat_seconds: float = 15.0) -> AsyncIterator[list[dict[str, Any]] | None]:
        """Yield the queues at once (when known) and after every change; None as a heartbeat."""
        self.subscribers += 1
        if self._task is None:
            self._task = asyncio.create_task(self._poll())
        seen = -1
        try:
            while True:
                async with self._changed:
                    if self.snapshot is None or self.version == seen:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._changed.wait(), heartbeat_seconds)
                if self.version != seen and self.snapshot is not None:
                    seen = self.version
                    yield self.snapshot
                else:
                    yield None
        finally:
            self.subscribers -= 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
