"""The seeding path of ``hotline bench --stored`` writes what the product writes, through the product's store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.seed import seed_store
from services.metrics.case_facts import OPEN_STATUSES
from services.metrics.repository import MetricsRepository

pytestmark = pytest.mark.integration


async def test_a_seeded_store_has_counters_equal_to_a_rebuild_and_only_open_cases_due(
    mongo_db, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = MetricsRepository(mongo_db)
    now = datetime.now(UTC)

    done = await seed_store(repository, 400, batch=100, now=now)

    assert done["new_cases"] == 400
    # Each case is stored with its life in one write; every one of its steps applies (none is rejected).
    assert int(str(done["steps_applied"])) > 400 and done["steps_rejected"] == 0
    shown = capsys.readouterr()  # the progress bars, on standard error like every long command's
    assert "seeding cases" in shown.err and "400/400" in shown.err and "seeding" not in shown.out
    assert int(str(done["deadlines_flagged"])) > 0  # the older unresolved cases, flagged by the watcher's own code
    assert await repository.stored_counters() == await repository.computed_counters()
    # The queues' open-case digests, kept step by step through returns, whistles, duplicates and flags, equal
    # the ones rebuilt from the cases.
    digests = {
        d["_id"]: d["cases"] async for d in mongo_db.open_cases.find({"queue_id": {"$exists": True}}) if d["cases"]
    }
    await repository.open_cases.rebuild()
    assert digests and digests == {
        d["_id"]: d["cases"] async for d in mongo_db.open_cases.find({"queue_id": {"$exists": True}}) if d["cases"]
    }
    with_deadline = [doc async for doc in mongo_db.cases.find({"next_due_at": {"$exists": True}}, {"status": 1})]
    assert with_deadline and all(doc["status"] in OPEN_STATUSES for doc in with_deadline)
    assert await repository.outbox_messages() == []
    assert await repository.flag_overdue(now) == 0
    # The word blocks were written by the batches and the store says so: a worker opening it builds none again.
    assert await MetricsRepository(mongo_db).backfill_word_blocks() == 0
