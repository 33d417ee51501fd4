"""Pure aggregation of routed calls: the case documents and the pre-aggregated counter increments.

No I/O here. The repository stores what these functions build, inside one transaction, and only for
calls it has not stored before; so counters are always derived from *new* cases and a replay of the
same events changes nothing.

Months and days are counted in the city's time zone (``settings.timezone``, Asia/Shanghai for
Beijing), not UTC: a call received at 2026-03-31T17:30Z is 01:30 on 1 April in Beijing and counts in
April.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.events import CallRouted

DISPATCHED = "dispatched"  # 派单: the case waits in its queue for the handling unit
OPEN_STATUSES: tuple[str, ...] = (DISPATCHED,)

DIMENSIONS: tuple[str, ...] = ("category", "issue", "unit", "district")
"""Monthly counter dimensions: level-1 category, Monthly-Question problem id, queue (unit), district."""

QUEUE_COUNTER_PREFIX = "queue|"


def monthly_counter_id(month: str, dimension: str, value: str) -> str:
    """The ``_id`` of a monthly counter, e.g. ``2026-04|category|劳动和社会保障``."""
    return f"{month}|{dimension}|{value}"


def queue_counter_id(queue_id: str) -> str:
    """The ``_id`` of a queue's depth counter, e.g. ``queue|street:大兴区/西红门镇``."""
    return f"{QUEUE_COUNTER_PREFIX}{queue_id}"


def local_month_and_day(moment: datetime, timezone: str) -> tuple[str, str]:
    """The month (YYYY-MM) and day (YYYY-MM-DD) of ``moment`` in the city's time zone."""
    local = _as_utc(moment).astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m"), local.strftime("%Y-%m-%d")


def unique_by_call(events: Iterable[CallRouted]) -> list[CallRouted]:
    """The events with one per call id (the first seen): at-least-once delivery repeats events."""
    seen: dict[str, CallRouted] = {}
    for event in events:
        seen.setdefault(str(event.call_id), event)
    return list(seen.values())


def case_document(event: CallRouted, timezone: str) -> dict[str, Any]:
    """The ``cases`` document of one routed call: the call, its classification and assignment, status 派单."""
    call, classification, assignment = event.call, event.classification, event.assignment
    received_at = _as_utc(call.received_at)
    month, day = local_month_and_day(received_at, timezone)
    return {
        "_id": str(event.call_id),
        "event_id": str(event.event_id),
        "status": DISPATCHED,
        "call": {
            "channel": call.channel.value,
            "source_system": call.source_system,
            "external_id": call.external_id,
            "subject": call.subject,
            "body": call.body,
            "language": call.language,
            "location": call.location.model_dump(),
            # Only the hash (to link a citizen's calls) and the masked form: never the plain contact.
            "contact": call.contact.model_dump() if call.contact is not None else None,
        },
        "classification": {
            "category": classification.category,
            "subcategory": classification.subcategory,
            "item": classification.item,
            "issue": classification.issue,
            "confidence": classification.confidence,
            "model_version": classification.model_version,
            "needs_review": classification.needs_review,
            "explanation": list(classification.explanation),
        },
        "assignment": {
            "queue_id": assignment.queue_id,
            "unit_kind": assignment.unit_kind.value,
            "unit_name": assignment.unit_name,
            "district": assignment.district,
            "street": assignment.street,
            "cooperating_units": list(assignment.cooperating_units),
            "rule_id": assignment.rule_id,
            "catalogue_version": assignment.catalogue_version,
            "reason": assignment.reason,
            "priority": assignment.priority,
            "response_due_at": _as_utc_or_none(assignment.response_due_at),
            "resolution_due_at": _as_utc_or_none(assignment.resolution_due_at),
        },
        # Top-level copies of the fields the indexes and queries use.
        "queue_id": assignment.queue_id,
        "district": assignment.district or call.location.district,
        "received_at": received_at,
        "routed_at": _as_utc(event.occurred_at),
        "month": month,
        "day": day,
    }


@dataclass(frozen=True)
class QueueIncrement:
    """How many cases a batch adds to one queue, with the unit's names for display."""

    queue_id: str
    unit_kind: str
    unit_name: str
    district: str | None
    opened: int
    oldest_received_at: datetime
    oldest_call_id: str


@dataclass(frozen=True)
class CounterIncrements:
    """The counter changes a batch of new cases causes."""

    monthly: dict[str, int] = field(default_factory=dict)
    """monthly counter id -> cases to add (``dispatched``)."""
    labels: dict[str, str] = field(default_factory=dict)
    """monthly counter id -> a display label (the unit's name for the ``unit`` dimension)."""
    queues: dict[str, QueueIncrement] = field(default_factory=dict)
    """queue id -> the open cases to add to its depth."""

    def __len__(self) -> int:
        return len(self.monthly) + len(self.queues)


def counter_increments(new_cases: Sequence[Mapping[str, Any]]) -> CounterIncrements:
    """The monthly counts (per category, issue, unit, district) and queue depths that ``new_cases`` add."""
    monthly: Counter[str] = Counter()
    opened: Counter[str] = Counter()
    units: dict[str, Mapping[str, Any]] = {}
    oldest: dict[str, tuple[datetime, str]] = {}
    labels: dict[str, str] = {}
    for case in new_cases:
        month = case["month"]
        classification, assignment = case["classification"], case["assignment"]
        monthly[monthly_counter_id(month, "category", classification["category"])] += 1
        if classification.get("issue"):
            monthly[monthly_counter_id(month, "issue", classification["issue"])] += 1
        unit_counter = monthly_counter_id(month, "unit", assignment["queue_id"])
        monthly[unit_counter] += 1
        labels.setdefault(unit_counter, assignment["unit_name"])
        if case.get("district"):
            monthly[monthly_counter_id(month, "district", case["district"])] += 1
        if case["status"] in OPEN_STATUSES:
            opened[assignment["queue_id"]] += 1
            units.setdefault(assignment["queue_id"], assignment)
            waiting = (case["received_at"], case["_id"])
            oldest[assignment["queue_id"]] = min(oldest.get(assignment["queue_id"], waiting), waiting)
    queues = {
        queue_id: QueueIncrement(
            queue_id=queue_id,
            unit_kind=units[queue_id]["unit_kind"],
            unit_name=units[queue_id]["unit_name"],
            district=units[queue_id].get("district"),
            opened=count,
            oldest_received_at=oldest[queue_id][0],
            oldest_call_id=oldest[queue_id][1],
        )
        for queue_id, count in opened.items()
    }
    return CounterIncrements(monthly=dict(monthly), labels=labels, queues=queues)


def parse_counter_id(counter_id: str) -> tuple[str, str, str]:
    """The (month, dimension, value) of a monthly counter id; the value may itself contain ``|``."""
    month, dimension, value = counter_id.split("|", 2)
    return month, dimension, value


def _as_utc(moment: datetime) -> datetime:
    # PyMongo returns naive UTC datetimes unless tz_aware: treat naive as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _as_utc_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else _as_utc(moment)
