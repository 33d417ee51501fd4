"""Hot spots (主动治理): check the areas a batch touched against their baselines; store and announce new ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession

from services.metrics.aggregates import area_counter_id, field_key
from services.metrics.scoreboard import HotSpot, HotSpotThresholds, baseline_days, hot_spot, window_days
from services.metrics.store.base import MetricsDatabase
from services.metrics.store.outbox import Outbox, outbox_document
from shared import topics
from shared.events import HOTLINE_NAMESPACE, HotSpotAlert


class HotSpotStore:
    """The ``hotspots`` collection, fed from the daily area counters."""

    def __init__(self, database: MetricsDatabase, outbox: Outbox) -> None:
        self.database = database
        self.outbox = outbox

    async def detect(self, touched: Iterable[tuple[str, str, str, str]], thresholds: HotSpotThresholds) -> int:
        """Check the touched area x problem x days against their baselines; store and queue each new hot spot.

        An area's days are read once for all its touched problems (its daily counters hold every problem)."""
        by_area_day: dict[tuple[str, str], dict[str, str]] = {}
        for area, problem, day, call_id in touched:
            by_area_day.setdefault((area, day), {}).setdefault(problem, call_id)
        found = 0
        db = self.database
        for (area, day), problems in by_area_day.items():
            days = sorted(
                set(window_days(day, "week"))
                | set(baseline_days(day, "day", thresholds))
                | set(baseline_days(day, "week", thresholds))
            )
            ids = [area_counter_id(d, area) for d in days]
            docs = await db.find_by_ids(db.counters, ids, None, {"problems": 1, "day": 1})
            for problem, call_id in problems.items():
                key = field_key(problem)
                daily = {doc["day"]: int((doc.get("problems") or {}).get(key, 0)) for doc in docs.values()}
                for window in ("day", "week"):
                    spot = hot_spot(day, window, daily, thresholds)
                    if spot is not None and await self._store(area, problem, spot, call_id, thresholds):
                        found += 1
        return found

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
