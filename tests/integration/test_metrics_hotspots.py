"""Hot spots (主动治理) on the real embedded database: a day well above its area's baseline is stored once, an
area's problems are judged apart, and a day checked again reads only its own counter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.metrics.api.views import HotSpotsView
from services.metrics.scoreboard import HotSpotThresholds
from services.metrics.store.hotspots import BASELINE_CACHE_SECONDS, HotSpotStore
from shared.clock import as_utc
from tests import factories
from tests.integration.test_metrics_case_store import ready

pytestmark = pytest.mark.integration


async def test_a_day_well_above_the_area_baseline_is_stored_as_a_hot_spot_once(mongo_db) -> None:
    repository = await ready(mongo_db)
    start = datetime(2026, 4, 1, 2, tzinfo=UTC)
    calls = [
        factories.routed(f"base-{d}", received_at=start + timedelta(days=d), issue="wage-arrears") for d in range(14)
    ]
    spike = [
        factories.routed(f"spike-{i}", received_at=start + timedelta(days=20), issue="wage-arrears") for i in range(6)
    ]
    await repository.apply_routed(calls)
    result = await repository.apply_routed_detailed(spike)

    thresholds = HotSpotThresholds(min_count=5, ratio=3.0, baseline_days=28)
    assert await repository.detect_hotspots(result.touched_areas, thresholds) >= 1
    assert await repository.detect_hotspots(result.touched_areas, thresholds) == 0

    spots = await repository.hotspot_list(problem="wage-arrears")
    day = next(s for s in spots if s["window"] == "day")
    assert (day["area"], day["day"], day["count"]) == ("大兴区/西红门镇", "2026-04-21", 6)
    # As GET /v1/hotspots answers them (without the _id), the stored hot spots are what its model documents
    # (times read as UTC, as the services' tz-aware client reads them; this fixture's client is naive).
    answered = HotSpotsView.model_validate(
        {
            "hot_spots": [
                {k: as_utc(v) if isinstance(v, datetime) else v for k, v in spot.items() if k != "_id"}
                for spot in spots
            ]
        }
    )
    assert answered.hot_spots[0].detected_at is not None
    assert any(m["topic"] == "hotline.alerts.v1" for m in await repository.outbox_messages())


async def test_an_area_s_problems_are_judged_apart_though_counted_in_one_document_a_day(mongo_db) -> None:
    """A street's daily counter holds all its problems: a steady problem there neither hides nor adds to a spike
    of another, and both are checked from one read of the street's days."""
    repository = await ready(mongo_db)
    start = datetime(2026, 4, 1, 2, tzinfo=UTC)
    steady = [
        factories.routed(f"steady-{d}-{i}", received_at=start + timedelta(days=d), category="城乡建设")
        for d in range(21)
        for i in range(6)
    ]
    spike = [
        factories.routed(f"spike-{i}", received_at=start + timedelta(days=20), issue="wage-arrears") for i in range(6)
    ]
    await repository.apply_routed(steady[:-6])
    result = await repository.apply_routed_detailed([*steady[-6:], *spike])
    day = await mongo_db.counters.find_one({"_id": "2026-04-21|area|大兴区/西红门镇"})
    assert day["problems"] == {"城乡建设": 6, "wage-arrears": 6}

    thresholds = HotSpotThresholds(min_count=5, ratio=3.0, baseline_days=28)
    assert await repository.detect_hotspots(result.touched_areas, thresholds) == 2  # the day and the week
    spots = await repository.hotspot_list()
    assert {(s["problem"], s["window"], s["count"]) for s in spots} == {
        ("wage-arrears", "day", 6),
        ("wage-arrears", "week", 6),
    }


async def test_a_day_checked_again_reads_only_its_own_counter_until_the_earlier_days_are_stale(mongo_db) -> None:
    """The days before the checked one are read once per BASELINE_CACHE_SECONDS: a second check of the day reads one
    counter per area, and still finds the spike its new calls make."""
    repository = await ready(mongo_db)
    clock = [0.0]
    repository.hotspots = HotSpotStore(repository.database, repository.outbox, clock=lambda: clock[0])
    read: list[int] = []
    find_by_ids = repository.database.find_by_ids

    async def counting(collection: Any, ids: Any, *args: Any) -> Any:
        if collection is repository.database.counters:
            read.append(len(ids))
        return await find_by_ids(collection, ids, *args)

    repository.database.find_by_ids = counting  # type: ignore[method-assign,assignment]
    start = datetime(2026, 4, 1, 2, tzinfo=UTC)
    await repository.apply_routed(
        [factories.routed(f"base-{d}", received_at=start + timedelta(days=d), issue="wage-arrears") for d in range(14)]
    )
    thresholds = HotSpotThresholds(min_count=5, ratio=3.0, baseline_days=28)

    async def spike(names: range) -> int:
        calls = [
            factories.routed(f"spike-{i}", received_at=start + timedelta(days=20), issue="wage-arrears") for i in names
        ]
        result = await repository.apply_routed_detailed(calls)
        return await repository.detect_hotspots(result.touched_areas, thresholds)

    assert await spike(range(3)) == 0  # 3 on the day: under the minimum
    assert read == [35]  # the week and both baselines
    assert await spike(range(3, 6)) == 1  # 6 on the day against 0.5 a day before: the day is hot
    assert read == [35, 1]  # the day's own counter only
    assert [(s["window"], s["count"]) for s in await repository.hotspot_list(problem="wage-arrears")] == [("day", 6)]

    clock[0] += BASELINE_CACHE_SECONDS
    assert await spike(range(6, 7)) == 0  # stored once
    assert read == [35, 1, 35]  # stale: the earlier days are read again
