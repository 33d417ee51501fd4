"""The case lifecycle: which step (``CaseEventKind``) is legal in which status, and where it leads.

It is part of the contract between services: intake refuses an illegal step with 409 and this reason,
and the metrics writer applies the same table to the stored case (refusing, for a race, what intake
would have refused). Pure data and functions, no I/O.

    dispatched ──accepted──> accepted ──responded──> responded ──resolved──> resolved ──callback──> called_back
        │  ▲                    │                        │                      │                      │
        │  └──dispatched──┐     └──returned──┐           │                      └──closed──> closed <──┘
        └──returned──> returned <────────────┘           │                         │
                          ▲                              │        reopened (resolved, called_back, closed) ──> accepted
       reclassified (dispatched, accepted, returned) ────┘
    linked: a duplicate call, joined to an open case; unlinked ──> returned (the router dispatches it)
"""

from __future__ import annotations

from enum import StrEnum

from shared.events import CaseEventKind


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
}

# Steps only a hotline supervisor (or the router, for dispatched/linked) may take; the others belong
# to the unit that holds the case.
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


def allowed_steps(status: CaseStatus | str) -> list[CaseEventKind]:
    """The steps legal in ``status`` (what a console should offer)."""
    status = CaseStatus(status)
    return [kind for kind, (legal_in, _) in TRANSITIONS.items() if status in legal_in]
