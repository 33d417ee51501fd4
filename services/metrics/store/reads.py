"""The read side's queries: queues, a queue's open cases, one case, monthly counters, street scoreboards."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING

from services.metrics.aggregates import (
    ASSIGNEES_FIELD,
    DIMENSIONS,
    parse_counter_id,
    queue_counter_id,
    streets_counter_id,
    unit_of_field_key,
)
from services.metrics.case_facts import OPEN_STATUSES
from services.metrics.case_search import SEARCH_PATHS, CaseFilter, ordered
from services.metrics.store.base import MetricsDatabase
from services.metrics.store.open_cases import OpenCaseDigests
from services.metrics.store.word_blocks import DEFAULT_BUDGET, Cursor, WordBlocks, WordPage
from shared.clock import as_utc, as_utc_or_none
from shared.queues import URGENT_PRIORITY


@dataclass(frozen=True)
class QueueSummary:
    """A queue's live state: how many cases wait in it, how many are overdue, and since when the oldest."""

    queue_id: str
    unit_kind: str
    unit_name: str
    district: str | None
    depth: int
    dispatched_total: int
    oldest_waiting_received_at: datetime | None
    oldest_waiting_call_id: str | None
    overdue: int = 0
    unassigned: int = 0
    assignees: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueLoad:
    """A queue's open cases (as lead unit) per assignee (承办人) and unassigned, from its counter."""

    queue_id: str
    open: int
    unassigned: int
    assignees: dict[str, int]


@dataclass(frozen=True)
class MonthlyCount:
    """Cases dispatched in a month for one value of a dimension."""

    value: str
    count: int
    label: str | None


SEARCH_FIELDS: dict[str, int] = dict.fromkeys(SEARCH_PATHS, 1)
"""What a search reads of a candidate case (the listed ones are read whole)."""


class MetricsReads:
    """Indexed reads of ``cases`` and ``counters`` for the read API and the scoreboard."""

    def __init__(self, database: MetricsDatabase) -> None:
        self.database = database
        self.open_cases = OpenCaseDigests(database)
        self.word_blocks = WordBlocks(database)

    @property
    def timezone(self) -> str:
        """The city's time zone, in which months and days are counted."""
        return self.database.timezone

    async def ping(self) -> bool:
        """Whether the database answers."""
        return await self.database.ping()

    async def queues(self) -> list[QueueSummary]:
        """Every queue with its depth, overdue count and oldest waiting case, from the queue counters (one query)."""
        summaries = []
        async for counter in self.database.counters.find({"dimension": "queue"}).sort("_id", ASCENDING):
            depth = int(counter.get("open", 0))
            oldest = counter.get("oldest_open") if depth > 0 else None
            summaries.append(
                QueueSummary(
                    queue_id=counter["queue_id"],
                    unit_kind=counter.get("unit_kind", ""),
                    unit_name=counter.get("unit_name", ""),
                    district=counter.get("district"),
                    depth=depth,
                    dispatched_total=int(counter.get("dispatched", 0)),
                    oldest_waiting_received_at=as_utc(oldest["received_at"]) if oldest else None,
                    oldest_waiting_call_id=oldest["call_id"] if oldest else None,
                    overdue=int(counter.get("overdue", 0)),
                    unassigned=int(counter.get("unassigned", 0)),
                    assignees=assignee_counts(counter),
                )
            )
        return summaries

    async def queue_load(self, queue_id: str) -> QueueLoad:
        """Each operator's load in a queue: its open cases per assignee and those unassigned, read from the
        queue's one counter document (kept by the writer, checked by ``hotline metrics rebuild --check``), never
        from the cases."""
        counter = await self.database.counters.find_one(
            {"_id": queue_counter_id(queue_id)}, {"open": 1, "unassigned": 1, ASSIGNEES_FIELD: 1}
        )
        counter = counter or {}
        return QueueLoad(
            queue_id=queue_id,
            open=int(counter.get("open", 0)),
            unassigned=int(counter.get("unassigned", 0)),
            assignees=assignee_counts(counter),
        )

    async def queue_depth_by_count(self, queue_id: str) -> int:
        """A queue's open cases (as lead unit) counted from the cases themselves (to check the counters against),
        read as every open-case read is (``MetricsDatabase.open_cases_of``), the lead checked here."""
        led = await self.database.open_cases_of(queue_id, projection={"queue_id": 1})
        return sum(1 for doc in led if doc.get("queue_id") == queue_id)

    async def cases_of_queue(
        self,
        queue_id: str,
        *,
        limit: int = 50,
        before: datetime | None = None,
        after: datetime | None = None,
        oldest_first: bool = True,
        urgent_first: bool = False,
        after_id: str | None = None,
        before_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Open cases of a queue (led or cooperating: 吹哨报到), oldest first, received between ``after`` and ``before``.

        The keyset cursor is the last listed case's (received_at, call id): with ``after_id`` the page goes on
        after (``after``, ``after_id``), with ``before_id`` before (``before``, ``before_id``), so cases received in
        the same millisecond are neither skipped nor listed twice across pages (without an id, after/before
        are strict bounds on the time alone).

        ``urgent_first``: the first page (oldest first, no cursor) starts with the queue's urgent cases
        (life-or-safety, ``shared.queues.URGENT_PRIORITY``), oldest first, then the rest, so an operator sees the
        gas leak before last week's broken street light; later pages go on by time (an urgent case may show
        again there, in its place in time). It costs a second read of the queue's open cases (the priority is
        checked beside the queue index), so it is asked for, not the default."""
        after, before = as_utc_or_none(after), as_utc_or_none(before)
        if oldest_first:
            found = await self._oldest_open(queue_id, limit, after=after, before=before, after_id=after_id)
        else:
            found = await self._newest_open(queue_id, limit, after=after, before=before, before_id=before_id)
        cases = [normalise_case(doc) for doc in found]
        if not oldest_first or after is not None or before is not None:
            return cases
        if not urgent_first:
            return cases
        urgent = [
            normalise_case(doc) for doc in await self._open_of(queue_id, {"assignment.priority": URGENT_PRIORITY})
        ]
        urgent = sorted(urgent, key=_received_order)[:limit]
        first = {case["call_id"] for case in urgent}
        return (urgent + [case for case in cases if case["call_id"] not in first])[:limit]

    async def _open_of(self, queue_id: str, condition: dict[str, Any]) -> list[dict[str, Any]]:
        """A queue's open cases meeting ``condition`` (``MetricsDatabase.open_cases_of``: bounded by its open cases)."""
        return await self.database.open_cases_of(queue_id, condition)

    async def _oldest_open(
        self,
        queue_id: str,
        limit: int,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
        after_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The ``limit`` oldest open cases of a queue received after ``after`` (a page's keyset cursor) and before
        ``before``, read in widening windows of received time from the cursor (or, on the first page, from the
        queue's oldest waiting case: its counter keeps it) until ``limit`` are found.

        The embedded database reads every index match before it applies a sort's limit, so "the oldest 200"
        in one query reads the whole queue (3 s for 10,000 cases); a window read stays small (0.1 s). On the
        first page, cases older than the start (cooperating ones, whose age the counter does not know) are read
        first."""
        end = before or datetime.now(UTC)
        found: dict[str, dict[str, Any]] = {}
        if after is None:
            counter = await self.database.counters.find_one({"_id": queue_counter_id(queue_id)}, {"oldest_open": 1})
            oldest = ((counter or {}).get("oldest_open") or {}).get("received_at")
            low = min(as_utc(oldest) if oldest else end - timedelta(days=31), end)
            found.update((d["_id"], d) for d in await self._open_of(queue_id, {"received_at": {"$lt": low}}))
            lower = "$gte"
        else:  # the cursor's own millisecond again when it names a case: its later ties follow it
            low, lower = after, "$gte" if after_id is not None else "$gt"
        width = timedelta(hours=1)
        while len(found) < limit and low < end:
            window = {"received_at": {lower: low, "$lt": min(low + width, end)}}
            found.update((d["_id"], d) for d in await self._open_of(queue_id, window))
            low, width, lower = min(low + width, end), width * 2, "$gte"
        if len(found) < limit and before is None:  # received after now (a clock ahead): whatever is left
            found.update((d["_id"], d) for d in await self._open_of(queue_id, {"received_at": {lower: low}}))
        if after is not None and after_id is not None:
            found = {key: d for key, d in found.items() if _received_order(d) > (after, after_id)}
        return sorted(found.values(), key=_received_order)[:limit]

    async def _newest_open(
        self,
        queue_id: str,
        limit: int,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
        before_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The ``limit`` newest open cases of a queue received before ``before`` (the keyset cursor of a newest-
        first page) and after ``after``, in widening windows back from the cursor (or now) to the queue's oldest
        waiting case, then whatever is older (cooperating cases)."""
        found: dict[str, dict[str, Any]] = {}
        if before is None:
            high = datetime.now(UTC)
            found.update((d["_id"], d) for d in await self._open_of(queue_id, {"received_at": {"$gte": high}}))
        else:
            high = before
            if before_id is not None:  # the cursor's own millisecond: its earlier ties come next
                tied = await self._open_of(queue_id, {"received_at": before})
                found.update((d["_id"], d) for d in tied if _received_order(d) < (before, before_id))
        counter = await self.database.counters.find_one({"_id": queue_counter_id(queue_id)}, {"oldest_open": 1})
        oldest = ((counter or {}).get("oldest_open") or {}).get("received_at")
        floor = max(as_utc(oldest) if oldest else high - timedelta(days=31), after or datetime.min.replace(tzinfo=UTC))
        width = timedelta(hours=1)
        while len(found) < limit and high > floor:
            low = max(high - width, floor)
            found.update(
                (d["_id"], d) for d in await self._open_of(queue_id, {"received_at": {"$gte": low, "$lt": high}})
            )
            high, width = low, width * 2
        if len(found) < limit:  # older than the oldest led case: cooperating ones
            older: dict[str, Any] = {"$lt": high, **({"$gt": after} if after is not None else {})}
            found.update((d["_id"], d) for d in await self._open_of(queue_id, {"received_at": older}))
        kept = [d for d in found.values() if after is None or as_utc(d["received_at"]) > after]
        return sorted(kept, key=_received_order, reverse=True)[:limit]

    async def search_cases(
        self, found: CaseFilter, *, sort: str = "urgent", limit: int = 200, now: datetime | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """Cases meeting ``found`` (how many, and the first ``limit`` in ``sort`` order), without their history.

        Inside a queue's open cases (no id or phone asked for) the candidates are the queue's digest entries
        (``store.open_cases``): one indexed read of small documents, the words looked for in each entry's stored
        text before it is decoded, every filter checked on the rest in Python, then only the listed cases read
        whole. Otherwise the database applies ``CaseFilter.query``
        (indexed on a queue, an id or a phone hash) and the words and the overdue test are applied to what it
        returns."""
        now = now or datetime.now(UTC)
        if self._digest_serves(found) and await self.open_cases.complete():
            queue_id = str(found.queue_id)
            visible = found.units is None or queue_id in found.units
            candidates = await self.open_cases.entries_of_queue(queue_id, found) if visible else []
            matched = [entry for entry in candidates if found.matches_fields(entry) and found.matches(entry, now)]
        else:
            cursor = self.database.cases.find(found.query(), SEARCH_FIELDS)
            matched = [doc async for doc in cursor if found.matches(doc, now)]
        # Only the listed ones are read whole (without their history), in slices the $in handles well.
        ids = [doc["_id"] for doc in ordered(matched, sort, limit)]
        whole: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 50):
            async for doc in self.database.cases.find({"_id": {"$in": ids[start : start + 50]}}, {"history": 0}):
                whole[doc["_id"]] = doc
        return len(matched), [normalise_case(whole[i]) for i in ids if i in whole]

    def words_serve(self, found: CaseFilter) -> bool:
        """A word search over the whole store (no queue, id or phone): served a page at a time from the word
        blocks (``search_words``), newest first, instead of reading every case."""
        return bool(found.words) and not found.queue_id and not found.call_id and not found.contact_hash

    async def search_words(
        self,
        found: CaseFilter,
        *,
        before: Cursor | None = None,
        limit: int = 200,
        budget: int = DEFAULT_BUDGET,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], WordPage]:
        """A page of a whole-store word search, newest first: the cases (without their history) and the page (its
        cursor to go on, what it looked at). The words are found in the word blocks, at most ``budget`` cases
        looked at; the other filters (and a unit's scope) are checked on the hits' documents, read by id."""
        now = now or datetime.now(UTC)
        query = found.query()

        async def keep(ids: list[str]) -> list[str]:
            kept = []
            for start in range(0, len(ids), 50):
                chunk = {"_id": {"$in": ids[start : start + 50]}, **query}
                kept += [
                    doc["_id"]
                    async for doc in self.database.cases.find(chunk, SEARCH_FIELDS)
                    if found.matches(doc, now)
                ]
            return kept

        page = await self.word_blocks.page(found.words, before=before, wanted=limit, budget=budget, keep=keep, now=now)
        whole = await self.database.find_by_ids(self.database.cases, page.call_ids, None, {"history": 0})
        return [normalise_case(whole[i]) for i in page.call_ids if i in whole], page

    @staticmethod
    def _digest_serves(found: CaseFilter) -> bool:
        """A search of a queue's open cases, not by id or phone (those are a few documents on their index)."""
        open_only = not found.statuses or set(found.statuses) <= set(OPEN_STATUSES)
        return bool(found.queue_id) and not found.call_id and not found.contact_hash and open_only

    async def get_case(self, call_id: str) -> dict[str, Any] | None:
        """One case by its call id, with its history, or None."""
        doc = await self.database.cases.find_one({"_id": call_id})
        return normalise_case(doc) if doc is not None else None

    async def find_cases(
        self,
        *,
        call_ids: Sequence[str] = (),
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        statuses: Sequence[str] = (),
        categories: Sequence[str] = (),
        issues: Sequence[str] = (),
        limit: int = 1000,
        units: Collection[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Cases newest first: by id (the other filters ignored), else received in a range, with a status, and
        classified in one of ``categories`` (``level1`` or ``level1/level2``) or ``issues``; with ``units``, only
        the cases those queues lead or cooperate on. Open311 reads this."""
        if call_ids:
            ids = list(dict.fromkeys(call_ids))
            found = list((await self.database.find_by_ids(self.database.cases, ids, None)).values())
            found.sort(key=lambda doc: as_utc(doc["received_at"]), reverse=True)
            return [normalise_case(doc) for doc in found[:limit]]
        query: dict[str, Any] = {}
        received: dict[str, datetime] = {}
        if received_from is not None:
            received["$gte"] = as_utc(received_from)
        if received_to is not None:
            received["$lte"] = as_utc(received_to)
        if received:
            query["received_at"] = received
        if statuses:
            query["status"] = {"$in": list(statuses)}
        kinds: list[dict[str, Any]] = []
        for path in categories:
            level1, _, level2 = path.partition("/")
            kinds.append(
                {"classification.category": level1, **({"classification.subcategory": level2} if level2 else {})}
            )
        kinds += [{"classification.issue": issue} for issue in issues]
        if kinds:
            query["$or"] = kinds
        if units is not None:
            listed = sorted(units)
            query["$and"] = [{"$or": [{"queue_id": {"$in": listed}}, {"queue_ids": {"$in": listed}}]}]
        cursor = self.database.cases.find(query).sort([("received_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [normalise_case(doc) async for doc in cursor]

    async def monthly_counts(self, month: str, dimension: str) -> list[MonthlyCount]:
        """Cases received in ``month`` per value of ``dimension``, largest first."""
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}; expected one of {', '.join(DIMENSIONS)}")
        counts = []
        async for counter in self.database.counters.find({"dimension": dimension, "month": month}):
            _, _, value = parse_counter_id(counter["_id"])
            counts.append(MonthlyCount(value=value, count=int(counter.get("count", 0)), label=counter.get("label")))
        counts.sort(key=lambda c: (-c.count, c.value))
        return counts

    async def monthly_counters(self, month: str, dimension: str, unit_kind: str | None = None) -> list[dict[str, Any]]:
        """The raw monthly counters of a dimension (index dimension+month), optionally of one unit kind."""
        # Filtered here, not in the query: on the embedded database a residual filter beside the index
        # costs ~0.25 ms per document (333 streets: 100 ms instead of 12 ms).
        documents = [doc async for doc in self.database.counters.find({"dimension": dimension, "month": month})]
        return [doc for doc in documents if unit_kind is None or doc.get("unit_kind") == unit_kind]

    async def street_scoreboards(self, months: Sequence[str]) -> dict[str, dict[str, dict[str, int]]]:
        """Month -> street id -> counts, from each month's one street scoreboard document."""
        ids = [streets_counter_id(month) for month in months]
        documents = await self.database.find_by_ids(self.database.counters, ids, None)
        boards: dict[str, dict[str, dict[str, int]]] = {}
        for document in documents.values():
            units = document.get("units") or {}
            boards[document["month"]] = {
                unit_of_field_key(key): {name: int(v) for name, v in counts.items()} for key, counts in units.items()
            }
        return boards


def assignee_counts(counter: Mapping[str, Any]) -> dict[str, int]:
    """A queue counter's open cases per assignee (承办人), most loaded first (names with none left out)."""
    counts = {
        unit_of_field_key(key): int(count)
        for key, count in (counter.get(ASSIGNEES_FIELD) or {}).items()
        if int(count) > 0
    }
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def normalise_case(doc: dict[str, Any]) -> dict[str, Any]:
    """The case with ``call_id`` and UTC-aware datetimes, whatever the client's ``tz_aware`` setting."""
    case = {"call_id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}
    for key, value in list(case.items()):
        if isinstance(value, datetime):
            case[key] = as_utc(value)
    assignment = case.get("assignment") or {}
    for key in ("response_due_at", "resolution_due_at"):
        if isinstance(assignment.get(key), datetime):
            assignment[key] = as_utc(assignment[key])
    for step in case.get("history") or ():
        if isinstance(step.get("at"), datetime):
            step["at"] = as_utc(step["at"])
    return case


def _received_order(case: dict[str, Any]) -> tuple[datetime, str]:
    return as_utc(case["received_at"]), str(case.get("_id", case.get("call_id", "")))
