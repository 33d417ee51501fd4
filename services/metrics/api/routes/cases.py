"""``/v1/cases``: cases by id or by receipt time, status and classification; ``/v1/cases/{call_id}``: one case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from services.metrics.api.deps import ReaderDep, ReadsDep
from services.metrics.api.views import CaseListView, CaseSearchView, CaseView
from services.metrics.case_search import SORT_KEYS, CaseFilter
from services.metrics.store.word_blocks import Cursor

router = APIRouter()


@router.get("/v1/cases")
async def find_cases(
    reads: ReadsDep,
    reader: ReaderDep,
    call_id: Annotated[list[str], Query(description="Case ids (repeat); the other filters are then ignored.")] = [],  # noqa: B006
    received_from: Annotated[datetime | None, Query(description="Received at or after (ISO 8601).")] = None,
    received_to: Annotated[datetime | None, Query(description="Received at or before (ISO 8601).")] = None,
    status: Annotated[list[str], Query(description="Lifecycle statuses (repeat), e.g. closed.")] = [],  # noqa: B006
    category: Annotated[
        list[str], Query(description="Level-1 or level1/level2 category (repeat); OR-ed with issue.")
    ] = [],  # noqa: B006
    issue: Annotated[list[str], Query(description="每月一题 problem ids (repeat).")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> CaseListView:
    """Cases by id, or by time of receipt, status and classification, newest first (Open311 reads these);
    a unit's key finds only the cases its units lead or cooperate on."""
    cases = await reads.find_cases(
        call_ids=call_id,
        received_from=received_from,
        received_to=received_to,
        statuses=status,
        categories=category,
        issues=issue,
        limit=limit,
        units=reader.units,
    )
    return CaseListView(cases=[CaseView.of(case) for case in cases if reader.sees_case(case)])


@router.get("/v1/search")
async def search_cases(
    reads: ReadsDep,
    reader: ReaderDep,
    queue_id: Annotated[
        str | None,
        Query(description="Only this queue's cases (lead or cooperating); open ones unless status is given."),
    ] = None,
    q: Annotated[
        str | None, Query(description="A call id, or words (all of them) in the subject, body, address or category.")
    ] = None,
    contact_hash: Annotated[
        str | None, Query(description="The citizen's salted phone hash (intake's contact.hash).")
    ] = None,
    category: Annotated[
        list[str], Query(description="level1, level1/level2 or level1/level2/level3 (repeat: any).")
    ] = [],  # noqa: B006
    status: Annotated[list[str], Query(description="Lifecycle statuses (repeat: any).")] = [],  # noqa: B006
    priority: Annotated[
        list[Annotated[int, Field(ge=1, le=5)]],
        Query(description="assignment.priority, 1 to 5 (1 = urgent; repeat: any)."),
    ] = [],  # noqa: B006
    district: Annotated[list[str], Query(description="Districts (repeat: any).")] = [],  # noqa: B006
    overdue: Annotated[bool | None, Query(description="true: only overdue cases; false: only those on time.")] = None,
    assignee: Annotated[str | None, Query(description="Only the cases assigned to this operator (承办人).")] = None,
    unassigned: Annotated[bool, Query(description="true: only the cases no operator was assigned yet.")] = False,
    sort: Annotated[
        Literal["urgent", "oldest", "newest", "deadline"], Query(description=f"One of {', '.join(SORT_KEYS)}.")
    ] = "urgent",
    limit: Annotated[int, Query(ge=1, le=10000)] = 200,
    before: Annotated[
        str | None,
        Query(description="A word search over the whole store: the next page's cursor (a previous answer's next)."),
    ] = None,
) -> CaseSearchView:
    """Search cases: by call id, by phone (its hash) or by words, filtered (filters combine: all must hold), sorted.

    A queue, a call id or a phone hash is served by an index. Words alone (no queue, id or phone) are looked for
    in the whole store a page at a time, newest first (sort is then newest), each page reading a bounded number
    of cases: follow ``next`` with ``before=``. A unit's key finds only the cases its units lead or cooperate on
    (404 for another unit's queue)."""
    if queue_id is not None and not reader.sees_queue(queue_id):
        raise HTTPException(status_code=404, detail=f"no queue {queue_id} for API key '{reader.name}'")
    found = CaseFilter.of(
        q=q,
        queue_id=queue_id,
        contact_hash=contact_hash,
        categories=tuple(category),
        statuses=tuple(status),
        priorities=tuple(priority),
        districts=tuple(district),
        overdue=overdue,
        assignee=assignee,
        unassigned=unassigned,
        units=reader.units,
    )
    if reads.words_serve(found) and await reads.word_blocks.complete():
        try:
            cursor = Cursor.decode(before) if before else None
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=f"before: {exc}") from exc
        listed, page = await reads.search_words(found, before=cursor, limit=limit)
        return CaseSearchView(
            total=len(listed),
            sort="newest",
            cases=[CaseView.of(case) for case in listed],
            next=page.next.encode() if page.next else None,
            looked_at=page.looked_at,
        )
    total, cases = await reads.search_cases(found, sort=sort, limit=limit)
    return CaseSearchView(total=total, sort=sort, cases=[CaseView.of(case) for case in cases])


@router.get("/v1/cases/{call_id}", responses={404: {"description": "No case with this call id (or not the key's)."}})
async def get_case(call_id: str, reads: ReadsDep, reader: ReaderDep) -> CaseView:
    """One case by its call id (404 when unknown, or when the key's units neither lead nor cooperate on it)."""
    case = await reads.get_case(call_id)
    if case is None or not reader.sees_case(case):
        raise HTTPException(status_code=404, detail=f"no case {call_id}")
    return CaseView.of(case)
