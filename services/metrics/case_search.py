"""Finding cases for an operator: by call id, by the citizen's phone (its salted hash), by words, filtered by
category, status, priority, overdue, district and assignee (承办人), in the order asked for. Pure: the query the index serves
and the rest applied to its candidates; the store runs them (``MetricsReads.search_cases``).

What the index serves: a queue (``queue_ids`` + ``status`` + ``received_at``), a call id (``_id``) or a
contact hash (``call.contact.hash``). The other filters and the words are checked on those candidates, so
a search inside one queue costs the queue's size, a search by id or phone a few documents, and words
without a queue a scan of every case (say which in the docs, measured).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.cases import is_overdue
from shared.clock import as_utc
from shared.lifecycle import OPEN_STATUSES

SortKey = Literal["urgent", "oldest", "newest", "deadline"]
SORT_KEYS: tuple[str, ...] = ("urgent", "oldest", "newest", "deadline")
"""urgent: priority first (1 = urgent), then oldest; oldest/newest by received time; deadline: the soonest
resolution deadline first (cases without one last)."""

_WORD_SPLIT = re.compile(r"\s+")


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

    def matches(self, case: Mapping[str, Any], now: datetime) -> bool:
        """Whether a case the database returned for ``query`` meets the rest: overdue, every word."""
        if self.overdue is not None and is_overdue(case, now) != self.overdue:
            return False
        return not self.words or all(word.lower() in searchable_text(case) for word in self.words)


def category_condition(path: str) -> dict[str, str]:
    """``level1``, ``level1/level2`` or ``level1/level2/level3`` as conditions on the classification."""
    fields = ("classification.category", "classification.subcategory", "classification.item")
    return dict(zip(fields, [p for p in path.split("/") if p], strict=False))


def searchable_text(case: Mapping[str, Any]) -> str:
    """What words are looked for in: subject, body, address, category path, lowercased."""
    call = case.get("call") or {}
    classification = case.get("classification") or {}
    parts = [
        call.get("subject"),
        call.get("body"),
        (call.get("location") or {}).get("address"),
        classification.get("category"),
        classification.get("subcategory"),
        classification.get("item"),
    ]
    return "\n".join(str(p) for p in parts if p).lower()


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
