"""``/v1/queues``: every queue's depth and oldest waiting case; a queue's open cases, page by page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from services.metrics.api.deps import Reader, ReaderDep, ReadsDep
from services.metrics.api.views import (
    AssigneeLoadView,
    CasesView,
    CaseView,
    OldestWaiting,
    QueueLoadView,
    QueuesView,
    QueueView,
)
from services.metrics.store.reads import MetricsReads

router = APIRouter()


async def queues_view(reads: MetricsReads, reader: Reader) -> QueuesView:
    """Every queue the reader sees, deepest first, with its oldest waiting case's age now (also the live
    feed's ``queues``)."""
    now = datetime.now(UTC)
    views = []
    for queue in await reads.queues():
        if not reader.sees_queue(queue.queue_id):
            continue
        oldest = None
        if queue.oldest_waiting_received_at is not None and queue.oldest_waiting_call_id is not None:
            oldest = OldestWaiting(
                call_id=queue.oldest_waiting_call_id,
                received_at=queue.oldest_waiting_received_at,
                age_seconds=round((now - queue.oldest_waiting_received_at).total_seconds(), 3),
            )
        views.append(
            QueueView(
                queue_id=queue.queue_id,
                unit_kind=queue.unit_kind,
                unit_name=queue.unit_name,
                district=queue.district,
                depth=queue.depth,
                dispatched_total=queue.dispatched_total,
                overdue=queue.overdue,
                unassigned=queue.unassigned,
                assignees=queue.assignees,
                oldest_waiting=oldest,
            )
        )
    views.sort(key=lambda q: (-q.depth, q.queue_id))
    return QueuesView(generated_at=now, queues=views)


@router.get("/v1/queues")
async def list_queues(reads: ReadsDep, reader: ReaderDep) -> QueuesView:
    """Every queue (a unit's key: its units' queues) with its depth, oldest waiting case and that case's age."""
    return await queues_view(reads, reader)


@router.get("/v1/queues/{queue_id:path}/load", responses={404: {"description": "Not a queue of the key's units."}})
async def queue_load(queue_id: str, reads: ReadsDep, reader: ReaderDep) -> QueueLoadView:
    """Each operator's load (承办人): the queue's open cases per assignee and unassigned, from the queue's counter
    (one document, whatever the number of cases); 404 for a queue not the key's unit's."""
    if not reader.sees_queue(queue_id):
        raise HTTPException(status_code=404, detail=f"no queue {queue_id} for API key '{reader.name}'")
    load = await reads.queue_load(queue_id)
    return QueueLoadView(
        queue_id=load.queue_id,
        open=load.open,
        unassigned=load.unassigned,
        assignees=[AssigneeLoadView(assignee=name, open=count) for name, count in load.assignees.items()],
    )


@router.get("/v1/queues/{queue_id:path}/cases")
async def list_queue_cases(
    queue_id: str,
    reads: ReadsDep,
    reader: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[datetime | None, Query(description="Only cases received before this time.")] = None,
    after: Annotated[datetime | None, Query(description="Only cases received after this time.")] = None,
    after_id: Annotated[
        str | None,
        Query(
            description="With after: the previous page's last call id; cases received at that very time go on "
            "after it (so ties are neither skipped nor repeated)."
        ),
    ] = None,
    before_id: Annotated[
        str | None, Query(description="With before: the previous page's last call id (the same, newest first).")
    ] = None,
    order: Annotated[
        Literal["oldest", "newest", "urgent"],
        Query(
            description="oldest first suits a work queue; urgent: its urgent cases first on the first page, then oldest."
        ),
    ] = "oldest",
) -> CasesView:
    """The open cases waiting in a queue, oldest first by default (``order=urgent``: urgent cases on top);
    404 for a queue not the key's unit's."""
    if not reader.sees_queue(queue_id):
        raise HTTPException(status_code=404, detail=f"no queue {queue_id} for API key '{reader.name}'")
    oldest_first = order != "newest"
    cases = await reads.cases_of_queue(
        queue_id,
        limit=limit,
        before=before,
        after=after,
        oldest_first=oldest_first,
        urgent_first=order == "urgent",
        after_id=after_id if after is not None else None,
        before_id=before_id if before is not None else None,
    )
    views = [CaseView.of(case) for case in cases]
    last = views[-1] if len(views) == limit else None
    return CasesView(
        queue_id=queue_id,
        order=order,
        cases=views,
        next_before=last.received_at if last and not oldest_first else None,
        next_after=last.received_at if last and oldest_first else None,
        next_before_id=last.call_id if last and not oldest_first else None,
        next_after_id=last.call_id if last and oldest_first else None,
    )
