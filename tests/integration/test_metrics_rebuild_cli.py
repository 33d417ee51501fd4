"""``hotline metrics rebuild``: recompute every counter from the stored cases; ``--check`` reports drift."""

from __future__ import annotations

import pytest

from hotline.metrics_cmd import rebuild
from services.metrics.repository import MetricsRepository
from tests import factories

pytestmark = pytest.mark.integration


async def test_rebuild_check_finds_a_damaged_counter_and_rebuild_repairs_it(mongo_db, settings, capsys) -> None:
    repository = MetricsRepository(mongo_db)
    await repository.ensure_indexes()
    calls = [factories.routed(f"rebuild-{i}", issue="wage-arrears") for i in range(4)]
    await repository.apply_routed(calls)
    await repository.apply_case_events([factories.case_step(calls[0], "accepted", actor="t")])
    uri, name = settings.mongodb.uri, mongo_db.name

    assert await rebuild(name, check=True, uri=uri) == 0
    await mongo_db.counters.update_one({"_id": "2026-04|issue|wage-arrears"}, {"$inc": {"count": 5}})
    await mongo_db.counters.delete_one({"_id": "queue|street:大兴区/西红门镇"})

    assert await rebuild(name, check=True, uri=uri) == 1
    shown = capsys.readouterr()
    assert "2 differ" in shown.out
    assert "hotline metrics rebuild: done" in shown.err and "rebuild:" not in shown.out  # the progress bar
    assert await rebuild(name, check=False, uri=uri) == 0
    assert await rebuild(name, check=True, uri=uri) == 0
    assert (await mongo_db.counters.find_one({"_id": "2026-04|issue|wage-arrears"}))["count"] == 4
    queues = {q.queue_id: q for q in await repository.queues()}
    assert queues["street:大兴区/西红门镇"].depth == 4
    assert queues["street:大兴区/西红门镇"].unit_name == "西红门镇"


async def test_rebuild_refuses_to_wipe_counters_of_a_database_without_cases(mongo_db, settings) -> None:
    await mongo_db.counters.insert_one({"_id": "2026-04|category|x", "count": 3})

    assert await rebuild(mongo_db.name, check=False, uri=settings.mongodb.uri) == 1
    assert await mongo_db.counters.count_documents({}) == 1
