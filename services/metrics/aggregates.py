"""Pure case facts and the counters they contribute to. No I/O.

A case's contribution to every counter is a function of its stored state alone
(``case_contributions``). The writer applies ``after - before`` for each case a batch changes, inside
the transaction that stores the case; ``hotline metrics rebuild`` sums the contributions of every
stored case. The two therefore agree whenever each event is applied exactly once, which the event ids
recorded in the case's ``history`` guarantee.

Months and days are counted in the city's time zone (``settings.timezone``, Asia/Shanghai for
Beijing), not UTC: a call received at 2026-03-31T17:30Z is 01:30 on 1 April in Beijing and counts in
April. Every figure of a case counts in the month (and day) it was *received*.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.clock import as_utc, as_utc_or_none, local_month_and_day
from shared.events import (
    HOTLINE_NAMESPACE,
    Assignment,
    CallRouted,
    CaseEvent,
    CaseEventKind,
    CaseOverdue,
    Classification,
    DeadlineKind,
    UnitKind,
)
from shared.lifecycle import OPEN_STATUSES as LIFECYCLE_OPEN
from shared.lifecycle import CaseStatus, IllegalTransition, missing_payload, next_status
from shared.queues import QueueId, kind_of, qualified_street

DISPATCHED = CaseStatus.dispatched.value
OPEN_STATUSES: tuple[str, ...] = tuple(sorted(status.value for status in LIFECYCLE_OPEN))
RESOLVED_STATUSES: frozenset[str] = frozenset({"resolved", "called_back", "closed"})
"""A case counts as resolved (解决) while it stands in one of these: a reopened case no longer does."""

DIMENSIONS: tuple[str, ...] = ("category", "issue", "unit", "district")
"""Monthly counter dimensions: level-1 category, Monthly-Question problem id, queue (unit), district."""

UNIT_FIELDS: tuple[str, ...] = (
    "count",
    "dispatched",
    "responded",
    "responded_on_time",
    "resolved",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "unreachable",
    "overdue_response",
    "overdue_resolution",
    "linked",
    "cooperated",
)
"""Fields of a ``unit`` or ``district`` monthly counter."""

QUEUE_COUNTER_PREFIX = "queue|"

Contributions = dict[str, dict[str, int]]
"""counter id -> field -> amount."""


def monthly_counter_id(month: str, dimension: str, value: str) -> str:
    """The ``_id`` of a monthly counter, e.g. ``2026-04|category|劳动和社会保障``."""
    return f"{month}|{dimension}|{value}"


def queue_counter_id(queue_id: str) -> str:
    """The ``_id`` of a queue's depth counter, e.g. ``queue|street:大兴区/西红门镇``."""
    return f"{QUEUE_COUNTER_PREFIX}{queue_id}"


def area_counter_id(day: str, area: str, problem: str) -> str:
    """The ``_id`` of a daily area x problem counter (hot spots), e.g. ``2026-04-10|area|大兴区/西红门镇|wage-arrears``."""
    return f"{day}|area|{area}|{problem}"


def parse_counter_id(counter_id: str) -> tuple[str, str, str]:
    """The (month or day, dimension, value) of a counter id; the value may itself contain ``|``."""
    period, dimension, value = counter_id.split("|", 2)
    return period, dimension, value


def unique_by_call(events: Iterable[CallRouted]) -> list[CallRouted]:
    """The events with one per call id (the first seen): at-least-once delivery repeats events."""
    seen: dict[str, CallRouted] = {}
    for event in events:
        seen.setdefault(str(event.call_id), event)
    return list(seen.values())


def assignment_document(assignment: Assignment) -> dict[str, Any]:
    """The stored form of a dispatch decision."""
    return {
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
        "response_due_at": as_utc_or_none(assignment.response_due_at),
        "resolution_due_at": as_utc_or_none(assignment.resolution_due_at),
        "attempt": assignment.attempt,
        "duplicate_of": str(assignment.duplicate_of) if assignment.duplicate_of else None,
    }


def classification_document(classification: Classification) -> dict[str, Any]:
    """The stored form of a classification."""
    return {
        "category": classification.category,
        "subcategory": classification.subcategory,
        "item": classification.item,
        "issue": classification.issue,
        "confidence": classification.confidence,
        "model_version": classification.model_version,
        "needs_review": classification.needs_review,
        "explanation": list(classification.explanation),
    }


def case_document(event: CallRouted, timezone: str) -> dict[str, Any]:
    """The ``cases`` document of one routed call: dispatched (派单), or linked when it duplicates an open case."""
    call, assignment = event.call, event.assignment
    received_at = as_utc(call.received_at)
    month, day = local_month_and_day(received_at, timezone)
    linked = assignment.duplicate_of is not None
    case: dict[str, Any] = {
        "_id": str(event.call_id),
        "event_id": str(event.event_id),
        "status": CaseStatus.linked.value if linked else DISPATCHED,
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
        "classification": classification_document(event.classification),
        "assignment": assignment_document(assignment),
        # Top-level copies of the fields the indexes and queries use.
        "queue_id": assignment.queue_id,
        "queue_ids": _queue_ids(assignment.queue_id, assignment.cooperating_units),
        "district": assignment.district or call.location.district,
        "received_at": received_at,
        "routed_at": as_utc(event.occurred_at),
        "month": month,
        "day": day,
        "linked_to": str(assignment.duplicate_of) if linked else None,
        "overdue": {},
        "history": [],
    }
    case["next_due_at"] = next_due_at(case)
    return case


@dataclass(frozen=True)
class StepOutcome:
    """What applying one case event did: ``applied``, ``duplicate`` (seen before) or ``rejected`` (illegal)."""

    outcome: str
    case: dict[str, Any]
    reason: str | None = None


def applied_event_ids(case: Mapping[str, Any]) -> set[str]:
    """Ids of the events already recorded on the case (applied or rejected)."""
    return {str(step["event_id"]) for step in case.get("history", ())}


def apply_case_event(case: Mapping[str, Any], event: CaseEvent) -> StepOutcome:
    """The case after ``event``: status by ``shared.lifecycle``, the step recorded in ``history``."""
    event_id = str(event.event_id)
    if event_id in applied_event_ids(case):
        return StepOutcome("duplicate", case)  # type: ignore[arg-type]
    updated = _copy_case(case)
    at = as_utc(event.occurred_at)
    step: dict[str, Any] = {
        "event_id": event_id,
        "kind": event.kind.value,
        "at": at,
        "actor": event.actor,
        "actor_queue": event.actor_queue,
        "note": event.note,
        "from_status": case["status"],
        "queue_id": case["queue_id"],  # the lead queue when the step was taken
    }
    if (
        event.kind == CaseEventKind.linked
        and case["status"] == CaseStatus.linked.value
        and (event.linked_to is None or str(event.linked_to) == case.get("linked_to"))
    ):
        # The router publishes the duplicate's CallRouted (stored as linked) and then this step.
        step.update(outcome="applied", to_status=case["status"], linked_to=case.get("linked_to"))
        updated["history"].append(_compact(step))
        return StepOutcome("applied", updated)
    try:
        status = next_status(case["status"], event.kind)
        _check_payload(event)
    except IllegalTransition as exc:
        step.update(outcome="rejected", reason=str(exc), to_status=case["status"])
        updated["history"].append(_compact(step))
        return StepOutcome("rejected", updated, str(exc))
    updated["status"] = status.value
    _apply_effects(updated, event, at)
    step.update(outcome="applied", to_status=status.value)
    if event.kind == CaseEventKind.whistle:
        step["departments"] = list(event.departments)
    if event.callback_result is not None:
        step["callback_result"] = event.callback_result.value
    if event.assignment is not None:
        step["assignment"] = {"queue_id": event.assignment.queue_id, "attempt": event.assignment.attempt}
    if event.linked_to is not None:
        step["linked_to"] = str(event.linked_to)
    updated["history"].append(_compact(step))
    updated["next_due_at"] = next_due_at(updated)
    return StepOutcome("applied", updated)


def _check_payload(event: CaseEvent) -> None:
    """Steps that cannot be applied without their payload (``shared.lifecycle.STEP_NEEDS``) are refused
    like an illegal transition."""
    if missing_payload(event) is not None:
        raise IllegalTransition(f"'{event.kind}' needs its payload (assignment, callback_result, departments...)")


def _apply_effects(case: dict[str, Any], event: CaseEvent, at: datetime) -> None:
    kind = event.kind
    if kind == CaseEventKind.accepted:
        case.setdefault("accepted_at", at)
    elif kind == CaseEventKind.responded:
        case["responded_at"] = at
    elif kind == CaseEventKind.returned:
        case["returned_count"] = int(case.get("returned_count", 0)) + 1
    elif kind == CaseEventKind.whistle:
        assignment = case["assignment"]
        cooperating = list(assignment.get("cooperating_units") or [])
        cooperating += [d for d in event.departments if d not in cooperating and d != case["queue_id"]]
        assignment["cooperating_units"] = cooperating
        case["queue_ids"] = _queue_ids(case["queue_id"], cooperating)
        summoned = list(case.get("summoned") or [])
        case["summoned"] = summoned + [d for d in event.departments if d not in summoned and d != case["queue_id"]]
    elif kind == CaseEventKind.resolved:
        case["resolved_at"] = at
    elif kind == CaseEventKind.callback:
        assert event.callback_result is not None
        case["callback_result"] = event.callback_result.value
        case["called_back_at"] = at
    elif kind == CaseEventKind.reopened:
        case["reopened_count"] = int(case.get("reopened_count", 0)) + 1
        for key in ("resolved_at", "callback_result", "called_back_at", "closed_at"):
            case.pop(key, None)
    elif kind == CaseEventKind.closed:
        case["closed_at"] = at
    elif kind == CaseEventKind.reclassified:
        assert event.classification is not None
        case["classification"] = classification_document(event.classification)
    elif kind == CaseEventKind.dispatched:
        assert event.assignment is not None
        assignment = assignment_document(event.assignment)
        case["assignment"] = assignment
        case["queue_id"] = assignment["queue_id"]
        case["queue_ids"] = _queue_ids(assignment["queue_id"], assignment["cooperating_units"])
        case["district"] = assignment["district"] or case["call"]["location"].get("district")
        case["dispatched_at"] = at
    elif kind == CaseEventKind.linked:
        case["linked_to"] = str(event.linked_to) if event.linked_to else None
    elif kind == CaseEventKind.unlinked:
        case["linked_to"] = None


def next_due_at(case: Mapping[str, Any]) -> datetime | None:
    """The earliest deadline of an open case not yet met nor flagged (what the deadline watcher queries)."""
    if case["status"] not in OPEN_STATUSES:
        return None
    assignment, overdue = case["assignment"], case.get("overdue") or {}
    due = []
    if assignment.get("response_due_at") and not case.get("responded_at") and "response" not in overdue:
        due.append(as_utc(assignment["response_due_at"]))
    if assignment.get("resolution_due_at") and "resolution" not in overdue:
        due.append(as_utc(assignment["resolution_due_at"]))
    return min(due) if due else None


def overdue_deadlines(case: Mapping[str, Any], now: datetime) -> list[DeadlineKind]:
    """The deadlines of ``case`` that passed by ``now`` and are not flagged yet."""
    if case["status"] not in OPEN_STATUSES:
        return []
    assignment, overdue = case["assignment"], case.get("overdue") or {}
    passed = []
    response_due = assignment.get("response_due_at")
    if response_due and not case.get("responded_at") and "response" not in overdue and as_utc(response_due) < now:
        passed.append(DeadlineKind.response)
    resolution_due = assignment.get("resolution_due_at")
    if resolution_due and "resolution" not in overdue and as_utc(resolution_due) < now:
        passed.append(DeadlineKind.resolution)
    return passed


def overdue_event_id(call_id: str, deadline: DeadlineKind | str) -> uuid.UUID:
    """The deterministic id of a case's overdue event: a re-publish after a crash is recognisable."""
    return uuid.uuid5(HOTLINE_NAMESPACE, f"overdue\x1f{call_id}\x1f{DeadlineKind(deadline).value}")


def flag_overdue(case: Mapping[str, Any], deadline: DeadlineKind, now: datetime) -> tuple[dict[str, Any], CaseOverdue]:
    """The case flagged overdue for ``deadline`` (counted against the unit that holds it) and its event."""
    updated = _copy_case(case)
    due_key = "response_due_at" if deadline == DeadlineKind.response else "resolution_due_at"
    due_at = as_utc(case["assignment"][due_key])
    overdue = dict(updated.get("overdue") or {})
    overdue[deadline.value] = {"at": now, "due_at": due_at, "queue_id": case["queue_id"]}
    updated["overdue"] = overdue
    updated["next_due_at"] = next_due_at(updated)
    event = CaseOverdue(
        event_id=overdue_event_id(case["_id"], deadline),
        occurred_at=now,
        call_id=uuid.UUID(case["_id"]),
        deadline=deadline,
        due_at=due_at,
        queue_id=case["queue_id"],
        unit_name=case["assignment"]["unit_name"],
    )
    return updated, event


def problem_of(case: Mapping[str, Any]) -> str:
    """The case's problem for volume trends and hot spots: its 每月一题 id, else its level-1 category."""
    classification = case["classification"]
    return str(classification.get("issue") or classification["category"])


def area_of(case: Mapping[str, Any]) -> str | None:
    """The case's area (district/street), or None when the street is unknown."""
    location = case["call"].get("location") or {}
    street = case["assignment"].get("street") or location.get("street")
    if not street:
        return None
    district = case.get("district") or location.get("district") or ""
    return qualified_street(district, street)


def case_contributions(case: Mapping[str, Any]) -> Contributions:
    """Every counter amount this case contributes in its current state (zero amounts left out)."""
    out: Contributions = defaultdict(dict)
    month, status = case["month"], case["status"]
    classification = case["classification"]
    linked = status == CaseStatus.linked.value
    out[monthly_counter_id(month, "category", classification["category"])]["count"] = 1
    if classification.get("issue"):
        out[monthly_counter_id(month, "issue", classification["issue"])]["count"] = 1
    area = area_of(case)
    if area is not None:
        out[area_counter_id(case["day"], area, problem_of(case))]["count"] = 1
    unit_id = monthly_counter_id(month, "unit", case["queue_id"])
    district_id = monthly_counter_id(month, "district", case["district"]) if case.get("district") else None
    if district_id:
        out[district_id]["count"] = 1
    if linked:
        out[unit_id]["linked"] = 1
    else:
        outcome = _unit_outcome(case)
        for counter_id in (unit_id, district_id):
            if counter_id is None:
                continue
            fields = out[counter_id]
            for name, amount in outcome.items():
                fields[name] = fields.get(name, 0) + amount
        out[unit_id]["count"] = 1
    for deadline, flag in (case.get("overdue") or {}).items():
        out[monthly_counter_id(month, "unit", flag["queue_id"])][f"overdue_{deadline}"] = 1
    for department in case.get("summoned") or ():
        out[monthly_counter_id(month, "unit", department)]["cooperated"] = 1
    queue = out[queue_counter_id(case["queue_id"])]
    if not linked:
        queue["dispatched"] = 1
    if status in OPEN_STATUSES:
        queue["open"] = 1
        if case.get("overdue"):
            queue["overdue"] = 1
    # The month's street scoreboard in one document: every street's counts, so a ranking reads one document.
    for counter_id, fields in list(out.items()):
        if counter_id.startswith(QUEUE_COUNTER_PREFIX):
            continue
        period, dimension, value = parse_counter_id(counter_id)
        if dimension == "unit" and kind_of(value) is UnitKind.street:
            summary = out[streets_counter_id(period)]
            for name, amount in fields.items():
                summary[f"units.{field_key(value)}.{name}"] = amount
    return {
        counter_id: {k: v for k, v in fields.items() if v} for counter_id, fields in out.items() if any(fields.values())
    }


def streets_counter_id(month: str) -> str:
    """The ``_id`` of a month's street scoreboard document, e.g. ``2026-04|streets|all``."""
    return f"{month}|streets|all"


def field_key(unit_id: str) -> str:
    """A unit id usable as a MongoDB field name (no dots, no leading $)."""
    return unit_id.replace(".", "\uff0e").replace("$", "\uff04")


def unit_of_field_key(key: str) -> str:
    """The unit id a ``field_key`` was made from."""
    return key.replace("\uff0e", ".").replace("\uff04", "$")


def _unit_outcome(case: Mapping[str, Any]) -> dict[str, int]:
    outcome = {"dispatched": 1}
    responded_at = case.get("responded_at")
    if responded_at:
        outcome["responded"] = 1
        due = case["assignment"].get("response_due_at")
        if due is None or as_utc(responded_at) <= as_utc(due):
            outcome["responded_on_time"] = 1
    if case["status"] in RESOLVED_STATUSES:
        outcome["resolved"] = 1
    if case.get("callback_result"):
        outcome[str(case["callback_result"])] = 1
    return outcome


def counter_meta(case: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The descriptive fields ($set) of the counters this case touches: period, dimension, labels."""
    meta: dict[str, dict[str, Any]] = {}
    assignment = case["assignment"]
    for counter_id in case_contributions(case):
        if counter_id.startswith(QUEUE_COUNTER_PREFIX):
            queue_id = counter_id[len(QUEUE_COUNTER_PREFIX) :]
            entry: dict[str, Any] = {"dimension": "queue", "queue_id": queue_id}
            if queue_id == case["queue_id"]:
                entry.update(
                    unit_kind=assignment["unit_kind"],
                    unit_name=assignment["unit_name"],
                    district=assignment["district"],
                )
            meta[counter_id] = entry
            continue
        period, dimension, value = parse_counter_id(counter_id)
        if dimension == "streets":
            meta[counter_id] = {"month": period, "dimension": "streets", "value": value}
            continue
        if dimension == "area":
            area, problem = value.rsplit("|", 1)
            meta[counter_id] = {
                "day": period,
                "month": period[:7],
                "dimension": "area",
                "area": area,
                "problem": problem,
            }
            continue
        entry = {"month": period, "dimension": dimension, "value": value}
        if dimension == "unit":
            queue = QueueId.try_parse(value)
            entry["unit_kind"] = queue.kind.value if queue else assignment["unit_kind"]
            if value == case["queue_id"]:
                entry["label"] = assignment["unit_name"]
            else:
                entry["label"] = queue.body if queue else value
        meta[counter_id] = entry
    return meta


@dataclass
class CounterChanges:
    """Counter amounts to add (negative to take away) and descriptive fields to set, summed over a batch."""

    amounts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues_left: dict[str, set[str]] = field(default_factory=dict)
    """Queues that lost open cases -> those cases: if one was the oldest waiting, look it up again."""
    queues_gained: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    """Queues that gained open cases -> the oldest (received_at, call id) among them."""

    def add_case(self, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> None:
        """Add the change from ``before`` (None for a new case) to ``after``."""
        old = case_contributions(before) if before is not None else {}
        new = case_contributions(after)
        for counter_id in set(old) | set(new):
            for name in set(old.get(counter_id, {})) | set(new.get(counter_id, {})):
                delta = new.get(counter_id, {}).get(name, 0) - old.get(counter_id, {}).get(name, 0)
                if delta:
                    fields = self.amounts[counter_id]
                    fields[name] = fields.get(name, 0) + delta
        self.meta.update(counter_meta(after))
        was_open = before is not None and before["status"] in OPEN_STATUSES
        is_open = after["status"] in OPEN_STATUSES
        if was_open and (not is_open or before["queue_id"] != after["queue_id"]):  # type: ignore[index]
            self.queues_left.setdefault(before["queue_id"], set()).add(str(before["_id"]))  # type: ignore[index]
        if is_open and not (was_open and before["queue_id"] == after["queue_id"]):  # type: ignore[index]
            waiting = (as_utc(after["received_at"]), str(after["_id"]))
            queue_id = after["queue_id"]
            self.queues_gained[queue_id] = min(self.queues_gained.get(queue_id, waiting), waiting)

    def nonzero(self) -> dict[str, dict[str, int]]:
        """The amounts without zero entries."""
        cleaned = {cid: {k: v for k, v in fields.items() if v} for cid, fields in self.amounts.items()}
        return {cid: fields for cid, fields in cleaned.items() if fields}


def sum_contributions(cases: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Every counter rebuilt from the cases' stored state (what ``hotline metrics rebuild`` writes)."""
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    for case in cases:
        for counter_id, fields in case_contributions(case).items():
            target = totals[counter_id]
            for name, amount in fields.items():
                target[name] = target.get(name, 0) + amount
    return dict(totals)


def _copy_case(case: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the case whose parts a step may change (history, assignment, overdue, queue ids) are its own."""
    copied = dict(case)
    copied["history"] = list(case.get("history") or [])
    copied["assignment"] = dict(case["assignment"])
    copied["assignment"]["cooperating_units"] = list(case["assignment"].get("cooperating_units") or [])
    copied["overdue"] = dict(case.get("overdue") or {})
    copied["queue_ids"] = list(case.get("queue_ids") or [])
    return copied


def _queue_ids(lead: str, cooperating: Iterable[str]) -> list[str]:
    ids = [lead]
    ids += [queue_id for queue_id in cooperating if queue_id not in ids]
    return ids


def _compact(step: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items() if v is not None}
