"""Hot spots (主动治理): check the areas a batch touched against their baselines; store and announce new ones."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.aggregates import AREA_PROBLEMS, area_counter_id, field_key
from services.metrics.scoreboard import HotSpot, HotSpotThresholds, checked_days, hot_spot
from services.metrics.store.base import MetricsDatabase
from services.metrics.store.outbox import Outbox, outbox_document
from shared import topics
from shared.events import HOTLINE_NAMESPACE, HotSpotAlert

BASELINE_CACHE_SECONDS = 300.0
"""How long a check reuses an area's days before the day it checks (the baselines, and the week window's
earlier days) instead of reading them again: those days are complete, except for a late call received on one of
them or a reclassified case, which a baseline then misses for at most this long."""
BASELINE_CACHE_ENTRIES = 4096
"""At most this many area x day entries are kept (every street/town of the city on a few days)."""


class HotSpotStore:
    """The ``hotspots`` collection, fed from the daily area counters."""

    def __init__(
        self,
        database: MetricsDatabase,
        outbox: Outbox,
        *,
        baseline_seconds: float = BASELINE_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.baseline_seconds = baseline_seconds
        self._clock = clock
        # (area, day) -> (when read, the area's counts per problem on each earlier day the check needs)
        self._earlier: OrderedDict[tuple[str, str], tuple[float, dict[str, dict[str, int]]]] = OrderedDict()

    async def detect(self, touched: Iterable[tuple[str, str, str, str]], thresholds: HotSpotThresholds) -> int:
        """Check the touched area x problem x days against their baselines; store and queue each new hot spot.

        One read for all the touched areas: an area's daily counter holds all its problems, and its days before
        the checked day are read once per ``baseline_seconds`` (then only the checked day's counter is read)."""
        by_area_day: dict[tuple[str, str], dict[str, str]] = {}
        for area, problem, day, call_id in touched:
            by_area_day.setdefault((area, day), {}).setdefault(problem, call_id)
        now = self._clock()
        fresh = {key for key in by_area_day if self._fresh(key, now)}
        # The days to read per area and day: only the day itself when its earlier days are still fresh.
        reading = {
            (area, day): [day] if (area, day) in fresh else checked_days(day, thresholds) for area, day in by_area_day
        }
        wanted = {area_counter_id(d, area) for (area, _), days in reading.items() for d in days}
        db = self.database
        docs = await db.find_by_ids(db.counters, sorted(wanted), None, {AREA_PROBLEMS: 1})

        def counts(area: str, day: str) -> dict[str, int]:
            return (docs.get(area_counter_id(day, area)) or {}).get(AREA_PROBLEMS) or {}

        found = 0
        for (area, day), problems in by_area_day.items():
            if (area, day) in fresh:
                earlier = self._earlier[(area, day)][1]
            else:
                earlier = {d: counts(area, d) for d in reading[(area, day)] if d != day}
                self._remember((area, day), now, earlier)
            today = counts(area, day)
            for problem, call_id in problems.items():
                key = field_key(problem)
                daily = {d: int(by_problem.get(key, 0)) for d, by_problem in earlier.items()}
                daily[day] = int(today.get(key, 0))
                for window in ("day", "week"):
                    spot = hot_spot(day, window, daily, thresholds)
                    if spot is not None and await self._store(area, problem, spot, call_id, thresholds):
                        found += 1
        return found

    def _fresh(self, key: tuple[str, str], now: float) -> bool:
        cached = self._earlier.get(key)
        return cached is not None and now - cached[0] < self.baseline_seconds

    def _remember(self, key: tuple[str, str], now: float, earlier: dict[str, dict[str, int]]) -> None:
        self._earlier[key] = (now, earlier)
        self._earlier.move_to_end(key)
        while len(self._earlier) > BASELINE_CACHE_ENTRIES:
            self._earlier.popitem(last=False)

    async def _store(self, area: str, problem: str, spot: HotSpot, call_id: str, thresholds: HotSpotThresholds) -> bool:
        hotspot_id = f"{area}|{problem}|{spot.window}|{spot.day}"
        alert = HotSpotAlert(
            event_id=uuid.uuid5(HOTLINE_NAMESPACE, f"hotspot\x1f{hotspot_id}"),
            call_id=uuid.UUID(call_id),
            area=area,
            problem=problem,
            window=spot.window,
            day=spot.day,
            count=spot.count,
            baseline=spot.baseline,
            ratio=spot.ratio,
            thresholds={
                "min_count": thresholds.min_count,
                "ratio": thresholds.ratio,
                "baseline_days": thresholds.baseline_days,
            },
        )
        hotspots = self.database.hotspots

        async def in_transaction(session: AsyncClientSession) -> bool:
            if await hotspots.find_one({"_id": hotspot_id}, {"_id": 1}, session=session):
                return False
            document = {"_id": hotspot_id, **alert.model_dump(mode="python"), "detected_at": datetime.now(UTC)}
            document["event_id"], document["call_id"] = str(alert.event_id), call_id
            await hotspots.insert_one(document, session=session)
            await self.outbox.put(outbox_document(topics.ALERTS, alert), session)
            return True

        return bool(await self.database.transaction(in_transaction))

    async def newest_first(
        self, *, area: str | None = None, problem: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Stored hot spots, newest first."""
        query: dict[str, Any] = {}
        if area:
            query["area"] = area
        if problem:
            query["problem"] = problem
        return [doc async for doc in self.database.hotspots.find(query).sort("detected_at", DESCENDING).limit(limit)]
