"""Who may see and do what in the console: pure functions of the user and the case, no I/O.

An operator (street/town or department) sees its own queue and the cases its unit cooperates on (named by
the catalogue rule, or summoned by a whistle: 吹哨报到), marked as such; a supervisor everything. Steps are offered by ``shared.lifecycle``'s rule, the
one intake enforces: legal in the case's status and the user's to take (only the holder acts; supervisor-
only steps; the whistle only for a street/town).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.console.users import Role, User
from shared.events import CaseEventKind
from shared.lifecycle import Role as CaseRole
from shared.lifecycle import permitted_steps
from shared.queues import queue_label

# The order actions are shown in.
STEP_ORDER: tuple[CaseEventKind, ...] = (
    CaseEventKind.accepted,
    CaseEventKind.responded,
    CaseEventKind.whistle,
    CaseEventKind.resolved,
    CaseEventKind.returned,
    CaseEventKind.callback,
    CaseEventKind.reclassified,
    CaseEventKind.reopened,
    CaseEventKind.closed,
    CaseEventKind.dispatched,
    CaseEventKind.unlinked,
    CaseEventKind.assigned,  # shown apart, in the case's handler (承办人) panel
    CaseEventKind.unassigned,  # the same panel: take the case back (取消指派)
)


def can_see_queue(user: User, queue_id: str) -> bool:
    """A supervisor sees every queue, an operator its own."""
    return user.is_supervisor or queue_id == user.queue


def visible_queues(user: User, queues: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The queues of ``queues`` the user may see; an operator's own queue is listed even when still empty."""
    seen = [q for q in queues if can_see_queue(user, str(q["queue_id"]))]
    if not user.is_supervisor and user.queue and not any(q["queue_id"] == user.queue for q in seen):
        seen.append(empty_queue(user.queue, user.role))
    return seen


def empty_queue(queue_id: str, role: Role) -> dict[str, Any]:
    """How a queue nothing was dispatched to yet is shown."""
    name = queue_label(queue_id)
    return {"queue_id": queue_id, "unit_kind": role.value, "unit_name": name, "depth": 0, "dispatched_total": 0}


def cooperating_units(case: Mapping[str, Any]) -> list[str]:
    """Queue ids of the case's cooperating units (from dispatch and from whistles)."""
    assignment = case.get("assignment") or {}
    units = list(assignment.get("cooperating_units") or [])
    units.extend(case.get("cooperating_units") or [])
    units.extend(q for q in case.get("queue_ids") or [] if q != case.get("queue_id"))
    return list(dict.fromkeys(units))


def can_see_case(user: User, case: Mapping[str, Any]) -> bool:
    """Supervisor: any case; an operator: its own queue's and those its unit cooperates on (as intake does)."""
    if user.is_supervisor:
        return True
    if case.get("queue_id") == user.queue:
        return True
    return user.queue is not None and user.queue in cooperating_units(case)


def role_in_queue(case: Mapping[str, Any], queue_id: str) -> str:
    """``lead`` when ``queue_id`` holds the case (主办), else ``cooperating`` (协办: listed, takes no step)."""
    return "lead" if case.get("queue_id") == queue_id else "cooperating"


def holds(user: User, case: Mapping[str, Any]) -> bool:
    """The user's unit holds the case (may act on it)."""
    return user.queue is not None and case.get("queue_id") == user.queue


def offered_steps(user: User, case: Mapping[str, Any]) -> list[CaseEventKind]:
    """The steps to offer ``user`` on ``case``: exactly those intake would accept now, in display order."""
    role: CaseRole = "supervisor" if user.is_supervisor else "lead" if holds(user, case) else "none"
    permitted = permitted_steps(
        role, str(case.get("status", "")), lead_queue=case.get("queue_id"), assignee=case.get("assignee")
    )
    return [step for step in STEP_ORDER if step in permitted]


def assignable(user: User, case: Mapping[str, Any], operators: Iterable[User]) -> list[str]:
    """Whom ``user`` may name as the case's handler (承办人): the operators of the unit that holds it, when the
    user may take the ``assigned`` step now (its own unit's case, or a supervisor); none otherwise."""
    if CaseEventKind.assigned not in offered_steps(user, case):
        return []
    lead = case.get("queue_id")
    return [operator.name for operator in operators if operator.queue is not None and operator.queue == lead]


def agreed_steps(local: list[CaseEventKind], intake_says: list[str] | None) -> list[CaseEventKind]:
    """The steps to offer: the console's own rule, narrowed by intake's answer when intake gives one."""
    if intake_says is None:
        return local
    return [step for step in local if step.value in intake_says]
