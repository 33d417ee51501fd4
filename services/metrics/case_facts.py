"""Pure case facts: the case document of a routed call and the lifecycle steps applied to it. No I/O.

A case is one document per call (``case_document``). Each lifecycle step (``CaseEvent``) is applied by
``apply_case_event``: the status moves by ``shared.lifecycle``, the step is recorded in ``history``
(applied or rejected) and its event id makes a redelivered step a no-op. Deadlines (``next_due_at``,
``overdue_deadlines``, ``flag_overdue``) and a case's area and problem (hot spots) are read from it.
What a case contributes to the counters is ``aggregates.py``.

Months and days are counted in the city's time zone (``settings.timezone``, Asia/Shanghai for
Beijing), not UTC: a call received at 2026-03-31T17:30Z is 01:30 on 1 April in Beijing and counts in
April. Every figure of a case counts in the month (and day) it was *received*.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
)
from shared.lifecycle import (
    CLEARS_ASSIGNEE,
    CaseStatus,
    IllegalTransition,
    assignee_problem,
    missing_payload,
    next_status,
)
from shared.lifecycle import OPEN_STATUSES as LIFECYCLE_OPEN
from shared.queues import qualified_street

DISPATCHED = CaseStatus.dispatched.value
OPEN_STATUSES: tuple[str, ...] = tuple(sorted(status.value for status in LIFECYCLE_OPEN))


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
            # The service the citizen chose (Open311 service_code, answers) and a photo link, when given.
            "requested": call.requested.model_dump() if call.requested is not None else None,
            "media_url": call.media_url,
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
        "history": [] if linked else [first_dispatch(event)],
    }
    set_next_due(case)
    return case


def first_dispatch(event: CallRouted) -> dict[str, Any]:
    """The first step of a case's history: the router's dispatch (派单) that opened it, under the routed
    event's id. A duplicate's history starts with the router's ``linked`` step instead."""
    assignment = event.assignment
    return _compact(
        {
            "event_id": str(event.event_id),
            "kind": CaseEventKind.dispatched.value,
            "at": as_utc(event.occurred_at),
            "actor": "router",
            "note": assignment.reason,
            "to_status": DISPATCHED,
            "queue_id": assignment.queue_id,
            "outcome": "applied",
            "assignment": {"queue_id": assignment.queue_id, "attempt": assignment.attempt},
        }
    )


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
        refused = assignee_problem(event.kind, case.get("assignee"))
        if refused:
            raise IllegalTransition(refused)
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
    if event.kind == CaseEventKind.assigned:
        step["assignee"] = updated["assignee"]
        step["previous_assignee"] = case.get("assignee")
    elif event.kind == CaseEventKind.unassigned:
        step["previous_assignee"] = case.get("assignee")
    updated["history"].append(_compact(step))
    set_next_due(updated)
    return StepOutcome("applied", updated)


def _check_payload(event: CaseEvent) -> None:
    """Steps that cannot be applied without their payload (``shared.lifecycle.STEP_NEEDS``) are refused
    like an illegal transition."""
    if missing_payload(event) is not None:
        raise IllegalTransition(f"'{event.kind}' needs its payload (assignment, callback_result, departments...)")


def _apply_effects(case: dict[str, Any], event: CaseEvent, at: datetime) -> None:
    kind = event.kind
    if kind in CLEARS_ASSIGNEE or kind == CaseEventKind.unassigned:  # the case leaves its unit or its handler
        case.pop("assignee", None)
        case.pop("assigned_at", None)
    if kind == CaseEventKind.assigned:
        assert event.assignee is not None
        case["assignee"] = event.assignee.strip()
        case["assigned_at"] = at
    elif kind == CaseEventKind.accepted:
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


def set_next_due(case: dict[str, Any]) -> None:
    """Keep ``next_due_at`` on an open case with a deadline ahead, and remove the field otherwise.

    Never stored as null: the deadline watcher's range query on the ``next_due`` index then walks only the
    cases that have a deadline (the open ones), not every case the city ever closed.
    """
    due = next_due_at(case)
    if due is None:
        case.pop("next_due_at", None)
    else:
        case["next_due_at"] = due


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
    set_next_due(updated)
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
