"""The case lifecycle: which step (``CaseEventKind``) is legal in which status, where it leads, who may
take it and what it cannot go without. The one copy of these rules.

It is part of the contract between services: intake refuses an illegal step with 409 and this reason,
and the metrics writer applies the same table to the stored case (refusing, for a race, what intake
would have refused); intake refuses a step its key may not take with 403 (``may_take``) and the console
offers exactly the steps intake would accept (``permitted_steps``); intake answers 422 for a step
without its payload and the metrics writer rejects one (``STEP_NEEDS``). Pure data and functions, no I/O.

    dispatched ──accepted──> accepted ──responded──> responded ──resolved──> resolved ──callback──> called_back
        │  ▲                    │                        │                      │                      │
        │  └──dispatched──┐     └──returned──┐           │                      └──closed──> closed <──┘
        └──returned──> returned <────────────┘           │                         │
                          ▲                              │        reopened (resolved, called_back, closed) ──> accepted
       reclassified (dispatched, accepted, returned) ────┘
    linked: a duplicate call, joined to an open case; unlinked ──> returned (the router dispatches it)
    assigned (dispatched, accepted, responded): the lead unit names its handler (承办人); the status stays.
    unassigned (the same, while a handler is named): the lead unit takes the case back (取消指派).
    A return, a reclassification or a (re-)dispatch moves the case away from its unit: the handler is cleared.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, NamedTuple

from shared.events import CallbackResult, CaseEvent, CaseEventKind, UnitKind
from shared.queues import kind_of


class CaseStatus(StrEnum):
    """Where a case stands."""

    dispatched = "dispatched"  # 已派单: waiting in a unit's queue to be accepted
    accepted = "accepted"  # 已签收
    responded = "responded"  # 已响应: the citizen was contacted
    returned = "returned"  # 已退单: waiting for the router (or a supervisor) to dispatch it again
    resolved = "resolved"  # 已办结: waiting for the callback
    called_back = "called_back"  # 已回访
    closed = "closed"  # 已结案
    linked = "linked"  # 已合并: a duplicate of another open case


OPEN_STATUSES: frozenset[CaseStatus] = frozenset(
    {CaseStatus.dispatched, CaseStatus.accepted, CaseStatus.responded, CaseStatus.returned}
)
"""Statuses in which a case waits for a unit (counted in queue depth and against deadlines)."""

# kind -> (statuses it is legal in, the status it leads to; None keeps the status)
TRANSITIONS: dict[CaseEventKind, tuple[frozenset[CaseStatus], CaseStatus | None]] = {
    CaseEventKind.accepted: (frozenset({CaseStatus.dispatched}), CaseStatus.accepted),
    CaseEventKind.responded: (frozenset({CaseStatus.accepted}), CaseStatus.responded),
    CaseEventKind.returned: (frozenset({CaseStatus.dispatched, CaseStatus.accepted}), CaseStatus.returned),
    CaseEventKind.whistle: (frozenset({CaseStatus.accepted, CaseStatus.responded}), None),
    CaseEventKind.resolved: (frozenset({CaseStatus.responded}), CaseStatus.resolved),
    CaseEventKind.callback: (frozenset({CaseStatus.resolved}), CaseStatus.called_back),
    CaseEventKind.reopened: (
        frozenset({CaseStatus.resolved, CaseStatus.called_back, CaseStatus.closed}),
        CaseStatus.accepted,
    ),
    CaseEventKind.closed: (frozenset({CaseStatus.resolved, CaseStatus.called_back}), CaseStatus.closed),
    CaseEventKind.reclassified: (
        frozenset({CaseStatus.dispatched, CaseStatus.accepted, CaseStatus.returned}),
        CaseStatus.returned,
    ),
    # after a return, or a supervisor moving a case out of the manual-dispatch queue (人工派单)
    CaseEventKind.dispatched: (frozenset({CaseStatus.returned, CaseStatus.dispatched}), CaseStatus.dispatched),
    CaseEventKind.linked: (frozenset({CaseStatus.dispatched}), CaseStatus.linked),
    CaseEventKind.unlinked: (frozenset({CaseStatus.linked}), CaseStatus.returned),
    # 承办人: who in the lead unit handles the case, while a unit holds it; the status stays
    CaseEventKind.assigned: (
        frozenset({CaseStatus.dispatched, CaseStatus.accepted, CaseStatus.responded}),
        None,
    ),
    # 取消指派: the lead unit takes the case back from its handler (only while one is named: assignee_problem)
    CaseEventKind.unassigned: (
        frozenset({CaseStatus.dispatched, CaseStatus.accepted, CaseStatus.responded}),
        None,
    ),
}

CLEARS_ASSIGNEE: frozenset[CaseEventKind] = frozenset(
    {CaseEventKind.returned, CaseEventKind.reclassified, CaseEventKind.dispatched, CaseEventKind.unlinked}
)
"""Steps that take the case away from the unit that holds it (退单, reclassification, a (re-)dispatch): its
handler (承办人, ``assigned``) is cleared, the next unit names its own."""

SUPERVISOR_ONLY: frozenset[CaseEventKind] = frozenset(
    {
        CaseEventKind.callback,
        CaseEventKind.reopened,
        CaseEventKind.closed,
        CaseEventKind.reclassified,
        CaseEventKind.dispatched,
        CaseEventKind.linked,
        CaseEventKind.unlinked,
    }
)
"""Steps only a hotline supervisor (or the router, for dispatched/linked) may take; the others belong to
the unit that holds the case."""

ROUTER_ONLY: frozenset[CaseEventKind] = frozenset({CaseEventKind.linked})
"""Steps only the router takes: a duplicate link is found at routing; a supervisor undoes it with unlinked."""

STREET_ONLY: frozenset[CaseEventKind] = frozenset({CaseEventKind.whistle})
"""Steps only a street/town (街乡镇) holding the case takes: 吹哨报到 — the street blows the whistle and
departments report; a department (委办局) or district holding a case does not summon others."""

Role = Literal["supervisor", "lead", "cooperating", "none"]
"""Who an actor is on a case: a supervisor (every case), the lead unit holding it, a cooperating unit
(summoned by a whistle or named by the catalogue rule: it reports to the lead unit, no step), or no one."""


def may_take(role: Role, kind: CaseEventKind | str, *, lead_queue: str | None) -> bool:
    """Whether an actor in ``role`` may take ``kind`` on a case held by ``lead_queue`` (whatever its status).

    A supervisor takes every step but the router's; the lead unit its own steps (not the supervisor-only
    ones), and the whistle only when it is a street/town; a cooperating unit or anyone else none.
    """
    kind = CaseEventKind(kind)
    if kind in ROUTER_ONLY:
        return False
    if role == "supervisor":
        return True
    if role != "lead" or kind in SUPERVISOR_ONLY:
        return False
    return kind not in STREET_ONLY or (lead_queue is not None and kind_of(lead_queue) is UnitKind.street)


def permitted_steps(
    role: Role, status: CaseStatus | str, *, lead_queue: str | None, assignee: str | None = None
) -> list[CaseEventKind]:
    """The steps an actor in ``role`` may take now: legal in ``status`` (and, for ``unassigned``, with a handler
    named: ``assignee``) and its to take (none for an unknown status).

    What intake answers on ``GET /v1/cases/{id}/steps`` and what the console offers.
    """
    try:
        legal = allowed_steps(status)
    except ValueError:
        return []
    return [
        kind
        for kind in legal
        if may_take(role, kind, lead_queue=lead_queue) and assignee_problem(kind, assignee) is None
    ]


class StepNeed(NamedTuple):
    """What a step cannot go without: the ``CaseEvent`` field, and the reason given when it is missing."""

    field: str
    message: str


STEP_NEEDS: dict[CaseEventKind, StepNeed] = {
    CaseEventKind.whistle: StepNeed(
        "departments", "whistle needs at least one department queue id (department:<name>)"
    ),
    CaseEventKind.callback: StepNeed("callback_result", f"callback needs callback_result: {', '.join(CallbackResult)}"),
    CaseEventKind.reclassified: StepNeed("classification", "reclassified needs classification.category"),
    # intake asks for the queue_id and builds the assignment from it
    CaseEventKind.dispatched: StepNeed("assignment", "dispatched needs the queue_id to dispatch the case to"),
    CaseEventKind.assigned: StepNeed(
        "assignee", "assigned needs the assignee: the name of an operator of the lead unit"
    ),
}
"""The payload each step cannot be applied without (an empty value counts as missing): intake answers 422
for a submitted step without it, the metrics writer rejects a stored step without it."""

RETURN_NEEDS_REASON = StepNeed("note", "returned needs the reason in note (退单理由)")
"""Asked of every return submitted through intake (退单理由); the writer still applies an older return without one."""


def missing_payload(event: CaseEvent) -> StepNeed | None:
    """What ``event`` lacks of ``STEP_NEEDS``, or None when it has its payload."""
    need = STEP_NEEDS.get(event.kind)
    if need is None:
        return None
    value = getattr(event, need.field)
    return need if not (value.strip() if isinstance(value, str) else value) else None


class IllegalTransition(ValueError):
    """The step is not legal in the case's status; the message says why, for a 409 answer."""


def next_status(status: CaseStatus | str, kind: CaseEventKind | str) -> CaseStatus:
    """The status after ``kind`` in ``status``; raises ``IllegalTransition`` with the reason when illegal."""
    status, kind = CaseStatus(status), CaseEventKind(kind)
    legal_in, leads_to = TRANSITIONS[kind]
    if status not in legal_in:
        allowed = ", ".join(sorted(legal_in))
        raise IllegalTransition(f"'{kind}' is not allowed when the case is '{status}' (only when: {allowed})")
    return leads_to or status


def assignee_problem(kind: CaseEventKind | str, assignee: str | None) -> str | None:
    """Why ``kind`` cannot be taken on a case whose handler (承办人) is ``assignee`` (None: no one), or None: an
    ``unassigned`` step needs a handler to take the case back from. Intake answers 409 with it; the metrics
    writer rejects such a step (a race: two operators taking the same case back)."""
    if CaseEventKind(kind) is CaseEventKind.unassigned and not assignee:
        return "'unassigned' needs an assigned operator (承办人) to take the case back from; none is assigned"
    return None


def allowed_steps(status: CaseStatus | str) -> list[CaseEventKind]:
    """The steps legal in ``status`` (what a console should offer)."""
    status = CaseStatus(status)
    return [kind for kind, (legal_in, _) in TRANSITIONS.items() if status in legal_in]
