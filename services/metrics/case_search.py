"""Finding cases for an operator: by call id, by the citizen's phone (its salted hash), by words, filtered by
category, status, priority, overdue, district and assignee (承办人), in the order asked for. Pure: the query the index serves
and the rest applied to its candidates; the store runs them (``MetricsReads.search_cases``).

What narrows the candidates: a queue's open cases come from its digest (``open_cases``: one document per
queue and hour received holding each open case's ``search_entry`` as a JSON string, kept by the metrics store in the transaction
that changes the case), a call id from ``_id``, a contact hash from ``call.contact.hash``; a queue's closed
cases from the ``queue_ids`` index. The other filters and the words are checked on those candidates, so a
search inside one queue reads the queue's open cases' entries (not its documents) and then only the listed
cases, a search by id or phone a few documents, and words without a queue a scan of every case
(docs/performance.md, measured).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from shared.cases import is_overdue
from shared.clock import as_utc, parse_utc
from shared.lifecycle import OPEN_STATUSES

SortKey = Literal["urgent", "oldest", "newest", "deadline"]
SORT_KEYS: tuple[str, ...] = ("urgent", "oldest", "newest", "deadline")
"""urgent: priority first (1 = urgent), then oldest; oldest/newest by received time; deadline: the soonest
resolution deadline first (cases without one last)."""

_WORD_SPLIT = re.compile(r"\s+")

TEXT_PATHS: tuple[str, ...] = (
    "call.subject",
    "call.body",
    "call.location.address",
    "classification.category",
    "classification.subcategory",
    "classification.item",
)
"""What words are looked for in (``searchable_text``), in this order."""

SEARCH_PATHS: tuple[str, ...] = (
    "status",
    "received_at",
    "district",
    "overdue",
    "assignment.priority",
    "assignment.resolution_due_at",
    "assignment.response_due_at",
    *TEXT_PATHS,
    "assignee",
)
"""What a search reads of every candidate: enough to filter, match the words and order it (the listed ones
are read whole). A queue digest's entry holds exactly these (``search_entry``)."""


@dataclass(frozen=True)
class CaseFilter:
    """What an operator searches for; empty fields do not filter."""

    queue_id: str | None = None
    call_id: str | None = None
    contact_hash: str | None = None
    words: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    districts: tuple[str, ...] = ()
    overdue: bool | None = None
    assignee: str | None = None  # 承办人: only the cases assigned to this operator
    unassigned: bool = False  # only the cases no operator was assigned yet
    units: frozenset[str] | None = None  # a unit's key: only the cases these queues lead or cooperate on

    @classmethod
    def of(cls, *, q: str | None = None, **fields: Any) -> CaseFilter:
        """A filter from a search box: a call id (UUID) is looked up as such, anything else is words."""
        text = (q or "").strip()
        call_id = None
        if text:
            try:
                call_id = str(uuid.UUID(text))
            except ValueError:
                pass
        words = () if call_id or not text else tuple(w for w in _WORD_SPLIT.split(text) if w)
        return cls(call_id=call_id, words=words, **fields)

    def query(self) -> dict[str, Any]:
        """The MongoDB filter: what an index serves (a queue's open or chosen cases, an id, a phone hash) and
        the plain field conditions the database checks on those candidates (status, category, priority,
        district); the words and the overdue test are applied after (``matches``)."""
        query: dict[str, Any] = {}
        if self.queue_id:
            query["queue_ids"] = self.queue_id
            query["status"] = {"$in": list(self.statuses or sorted(OPEN_STATUSES))}
        elif self.statuses:
            query["status"] = {"$in": list(self.statuses)}
        if self.call_id:
            query["_id"] = self.call_id
        if self.contact_hash:
            query["call.contact.hash"] = self.contact_hash
        if self.priorities:
            query["assignment.priority"] = {"$in": list(self.priorities)}
        if self.districts:
            query["district"] = {"$in": list(self.districts)}
        if self.assignee:
            query["assignee"] = self.assignee
        elif self.unassigned:
            query["assignee"] = None  # missing or null
        if self.categories:
            query["$or"] = [category_condition(path) for path in self.categories]
        if self.units is not None:
            query["$and"] = [{"queue_ids": {"$in": sorted(self.units)}}]
        return query

    def is_indexed(self) -> bool:
        """Whether an index narrows the candidates (else every case is a candidate)."""
        return bool(self.queue_id or self.call_id or self.contact_hash or self.units is not None)

    def matches_fields(self, case: Mapping[str, Any]) -> bool:
        """The plain field conditions of ``query`` (status, priority, district, category) checked in Python, on a
        candidate no index chose for them (a queue digest's entry)."""
        assignment = case.get("assignment") or {}
        if self.statuses and case.get("status") not in self.statuses:
            return False
        if self.priorities and assignment.get("priority") not in self.priorities:
            return False
        if self.districts and case.get("district") not in self.districts:
            return False
        if self.assignee and case.get("assignee") != self.assignee:
            return False
        if not self.assignee and self.unassigned and case.get("assignee"):
            return False
        return not self.categories or any(
            all(_path_value(case, field) == value for field, value in category_condition(path).items())
            for path in self.categories
        )

    def may_match_entry(self, text: str) -> bool:
        """A necessary test on a stored digest entry (``entry_text``) before it is decoded: every word, as it
        is written inside a JSON string, is in the entry's lowercased text. A word never spans two fields
        (words hold no whitespace), so no match is lost; what passes is checked again by ``matches``."""
        if not self.words:
            return True
        lowered = text.lower()
        return all(word in lowered for word in self._words_in_json)

    @cached_property
    def _words_in_json(self) -> tuple[str, ...]:
        return tuple(json.dumps(word.lower(), ensure_ascii=False)[1:-1] for word in self.words)

    def matches(self, case: Mapping[str, Any], now: datetime) -> bool:
        """Whether a case the database returned for ``query`` meets the rest: overdue, every word."""
        if self.overdue is not None and is_overdue(case, now) != self.overdue:
            return False
        return not self.words or all(word.lower() in searchable_text(case) for word in self.words)


def category_condition(path: str) -> dict[str, str]:
    """``level1``, ``level1/level2`` or ``level1/level2/level3`` as conditions on the classification."""
    fields = ("classification.category", "classification.subcategory", "classification.item")
    return dict(zip(fields, [p for p in path.split("/") if p], strict=False))


def search_entry(case: Mapping[str, Any]) -> dict[str, Any]:
    """The ``SEARCH_PATHS`` of a case, nested as in the case (a queue digest's entry; no ``_id``)."""
    entry: dict[str, Any] = {}
    for parts in _SEARCH_PARTS:
        value = _parts_value(case, parts)
        if value is None:
            continue
        *parents, last = parts
        target = entry
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return entry


def digest_batch(case: Mapping[str, Any]) -> str:
    """Which digest of a queue holds the case (``store/open_cases.py``): its hour received (UTC) and the moment
    its batch stored it (``stored_at``, to the millisecond: the same once read back), so a batch's new cases go
    into digests of their own; the bare hour for a case stored without ``stored_at`` (a seeded store)."""
    hour = as_utc(case["received_at"]).strftime("%Y-%m-%dT%H")
    stored_at = case.get("stored_at")
    return f"{hour}|{_iso(stored_at)}" if isinstance(stored_at, datetime) else hour


def open_entries(case: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(queue, ``digest_batch``) -> the case's ``search_entry``, for every queue the case waits in (led or
    cooperating: 吹哨报到) while it is open; nothing once it is closed or linked."""
    if case.get("status") not in OPEN_STATUSES:
        return {}
    entry = search_entry(case)
    batch = digest_batch(case)
    return {(str(queue_id), batch): entry for queue_id in case.get("queue_ids") or [case["queue_id"]]}


def entry_text(entry: Mapping[str, Any]) -> str:
    """A search entry as the digest stores it: one compact JSON string (times in ISO 8601), which the embedded
    database reads as one value where the nested document was a dozen."""
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=_iso)


def entry_of(text: str, call_id: str) -> dict[str, Any]:
    """A stored digest entry back as a search candidate (``_id`` and aware times, like a case document)."""
    entry: dict[str, Any] = json.loads(text)
    entry["_id"] = call_id
    entry["received_at"] = parse_utc(entry.get("received_at"))
    assignment = entry.get("assignment") or {}
    for key in ("resolution_due_at", "response_due_at"):
        if key in assignment:
            assignment[key] = parse_utc(assignment[key])
    return entry


def _iso(value: Any) -> str:
    if isinstance(value, datetime):  # to the millisecond, as the database keeps times: the same text either way
        moment = as_utc(value)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _path_value(document: Mapping[str, Any], path: str) -> Any:
    return _parts_value(document, tuple(path.split(".")))


def _parts_value(document: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    value: Any = document
    for part in parts:
        if not isinstance(value, (dict, Mapping)):  # dict first: an exact C check before the ABC's lookup
            return None
        value = value.get(part)
    return value


_SEARCH_PARTS = tuple(tuple(path.split(".")) for path in SEARCH_PATHS)
"""``SEARCH_PATHS`` split once: ``search_entry`` runs for every case a batch stores or changes."""


def searchable_text(case: Mapping[str, Any]) -> str:
    """What words are looked for in (``TEXT_PATHS``: subject, body, address, category path), lowercased."""
    parts = (_path_value(case, path) for path in TEXT_PATHS)
    return "\n".join(str(p) for p in parts if p).lower()


def hour_of(received_at: datetime) -> str:
    """A case's word block (``store/word_blocks.py``): its hour received, in UTC (``2026-05-06T02``)."""
    return as_utc(received_at).strftime("%Y-%m-%dT%H")


def block_entry(case: Mapping[str, Any]) -> str:
    """A case as its word block holds it: receipt time to the millisecond, a tab, its searchable text."""
    return f"{_iso(case['received_at'])}\t{searchable_text(case)}"


def sort_key(sort: str) -> Any:
    """The key ordering matched cases for ``sort`` (one of ``SORT_KEYS``)."""
    far = datetime.max.replace(tzinfo=as_utc(datetime(2000, 1, 1)).tzinfo)

    def received(case: Mapping[str, Any]) -> datetime:
        return as_utc(case["received_at"])

    if sort == "newest":
        return lambda case: (-received(case).timestamp(), case.get("_id", ""))
    if sort == "deadline":

        def deadline(case: Mapping[str, Any]) -> tuple[datetime, datetime]:
            due = (case.get("assignment") or {}).get("resolution_due_at")
            return (as_utc(due) if due is not None else far, received(case))

        return deadline
    if sort == "urgent":
        return lambda case: (int((case.get("assignment") or {}).get("priority") or 3), received(case))
    return lambda case: (received(case), case.get("_id", ""))


def ordered(cases: Sequence[dict[str, Any]], sort: str, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` of ``cases`` in the ``sort`` order."""
    return sorted(cases, key=sort_key(sort))[:limit]
