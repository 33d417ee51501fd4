"""Pure rules of case steps submitted through intake: who may take which step, what each step needs,
and the CaseEvent it becomes. No I/O: the case document and the key are passed in.

Who may act (API-key scopes per unit):
- a key with the ``supervisor`` scope: every step on every case;
- a key with ``cases:act`` and the case's lead queue among its ``units``: the unit's own steps
  (accepted, responded, returned, whistle, resolved), not the supervisor-only ones;
- a cooperating unit (summoned by a whistle, or named by the catalogue rule): no step. It sees the case
  in its queue and reports to the lead unit, which takes the steps (one unit answers for a case);
- anyone else: no step (403).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.api_keys import CASES_ACT, SUPERVISOR, KeyRecord
from shared.events import (
    HOTLINE_NAMESPACE,
    Assignment,
    CallbackResult,
    CaseEvent,
    CaseEventKind,
    Classification,
    UnitKind,
)
from shared.lifecycle import SUPERVISOR_ONLY, CaseStatus, allowed_steps, next_status
from shared.queues import MANUAL_CLASSIFICATION_QUEUE, MANUAL_DISPATCH_QUEUE, QueueId

Role = Literal["supervisor", "lead", "cooperating", "none"]
# Steps only the router takes (a duplicate link is found at routing; a supervisor undoes it with unlinked).
ROUTER_ONLY: frozenset[CaseEventKind] = frozenset({CaseEventKind.linked})
# The manual queues a supervisor may dispatch to (人工派单, 人工分拣).
MANUAL_QUEUES = frozenset({MANUAL_DISPATCH_QUEUE, MANUAL_CLASSIFICATION_QUEUE})


class ReclassificationIn(BaseModel):
    """The corrected category path of a reclassified case."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(min_length=1, max_length=50, description="Level-1 category, e.g. 劳动和社会保障.")
    subcategory: str | None = Field(None, max_length=50, description="Level-2 category.")
    item: str | None = Field(None, max_length=50, description="Level-3 category.")


class CaseStepIn(BaseModel):
    """A step a unit or supervisor takes on a case."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "accepted"},
                {"kind": "returned", "note": "不属于本街道管辖，应由区住建委处理"},
                {"kind": "whistle", "departments": ["department:市城市管理委员会", "department:市生态环境局"]},
                {"kind": "callback", "callback_result": "satisfied"},
                {"kind": "reclassified", "classification": {"category": "城乡建设"}},
                {"kind": "dispatched", "queue_id": "street:大兴区/西红门镇", "note": "人工派单"},
            ]
        },
    )

    kind: CaseEventKind = Field(description="Which step (linked is the router's own).")
    note: str | None = Field(None, max_length=4000, description="Free text; returned needs the reason (退单理由).")
    departments: list[str] = Field(default_factory=list, description="whistle: department queue ids summoned.")
    callback_result: CallbackResult | None = Field(None, description="callback: the citizen's answer.")
    classification: ReclassificationIn | None = Field(None, description="reclassified: the corrected category.")
    queue_id: str | None = Field(None, description="dispatched (supervisor): the queue to dispatch the case to.")


class StepAccepted(BaseModel):
    """The broker acknowledged the step's CaseEvent (acks=all)."""

    call_id: uuid.UUID
    event_id: uuid.UUID = Field(description="Deterministic from Idempotency-Key when given.")
    kind: CaseEventKind
    status_before: str = Field(description="The case's status when the step was checked.")
    status_after: str = Field(description="The status the step leads to (applied by the metrics service).")
    topic: str


class StepsAllowed(BaseModel):
    """The steps this key may take on the case now."""

    call_id: uuid.UUID
    status: str
    role: Role
    steps: list[CaseEventKind]


def lead_queue(case: Mapping[str, Any]) -> str | None:
    """The queue that holds the case (its lead unit)."""
    assignment = case.get("assignment") if isinstance(case.get("assignment"), Mapping) else {}
    queue = case.get("queue_id") or (assignment or {}).get("queue_id")
    return str(queue) if queue else None


def cooperating_queues(case: Mapping[str, Any]) -> set[str]:
    """Queues of the units cooperating on the case (whistle, or the catalogue rule)."""
    assignment = case.get("assignment") if isinstance(case.get("assignment"), Mapping) else {}
    queues = {str(q) for q in (assignment or {}).get("cooperating_units") or []}
    queues |= {str(q) for q in case.get("queue_ids") or []}
    lead = lead_queue(case)
    return queues - {lead} if lead else queues


def role_of(key: KeyRecord, case: Mapping[str, Any]) -> Role:
    """The key's role on this case."""
    if key.allows(SUPERVISOR):
        return "supervisor"
    if not key.allows(CASES_ACT):
        return "none"
    units = set(key.units)
    if lead_queue(case) in units:
        return "lead"
    if cooperating_queues(case) & units:
        return "cooperating"
    return "none"


def kind_allowed(role: Role, kind: CaseEventKind) -> bool:
    """Whether a key in ``role`` may take ``kind`` (regardless of the status)."""
    if kind in ROUTER_ONLY:
        return False
    if role == "supervisor":
        return True
    return role == "lead" and kind not in SUPERVISOR_ONLY


def permission_problem(key: KeyRecord, case: Mapping[str, Any], kind: CaseEventKind) -> str | None:
    """Why the key may not take ``kind`` on this case (for a 403), or None when it may."""
    role = role_of(key, case)
    if kind in ROUTER_ONLY:
        return f"'{kind}' is decided by the router, not submitted (a supervisor undoes a link with 'unlinked')"
    if kind_allowed(role, kind):
        return None
    lead = lead_queue(case) or "no unit"
    if role == "none" and not (key.allows(CASES_ACT) or key.allows(SUPERVISOR)):
        return f"API key '{key.name}' lacks the scope {CASES_ACT} or {SUPERVISOR}"
    if role == "none":
        return f"API key '{key.name}' does not act for {lead}, which holds this case"
    if role == "cooperating":
        return f"cooperating units report to the lead unit {lead}, which takes the steps"
    return f"'{kind}' needs the {SUPERVISOR} scope"


def steps_for(key: KeyRecord, case: Mapping[str, Any]) -> tuple[Role, list[CaseEventKind]]:
    """The key's role and the steps it may take in the case's status now (for the console)."""
    role = role_of(key, case)
    try:
        legal = allowed_steps(str(case.get("status")))
    except ValueError:
        legal = []
    return role, [kind for kind in legal if kind_allowed(role, kind)]


def status_problem(case: Mapping[str, Any], kind: CaseEventKind) -> tuple[str, str | None]:
    """(status after the step, None), or (status now, the reason it is illegal) for a 409."""
    status = str(case.get("status"))
    try:
        return str(next_status(status, kind)), None
    except ValueError as exc:  # IllegalTransition, or a status this version does not know
        reason = str(exc) if status in CaseStatus.__members__ else f"the case's status {status!r} is not known"
        return status, reason


def step_field_problems(
    step: CaseStepIn,
    *,
    department_queues: Collection[str],
    categories: Collection[str],
    queue_is_known: Any,
) -> list[dict[str, Any]]:
    """What a step lacks ({loc, msg, type} for a 422): whistle departments, callback result, category, queue."""
    problems: list[dict[str, Any]] = []

    def add(field: str, message: str, kind: str) -> None:
        problems.append({"loc": ["body", field], "msg": message, "type": kind})

    if step.kind is CaseEventKind.whistle:
        if not step.departments:
            add("departments", "whistle needs at least one department queue id (department:<name>)", "missing")
        unknown = [d for d in step.departments if d not in department_queues]
        if unknown:
            add("departments", f"not departments of the dispatch catalogue: {unknown}", "unknown_department")
    if step.kind is CaseEventKind.callback and step.callback_result is None:
        add("callback_result", f"callback needs callback_result: {', '.join(CallbackResult)}", "missing")
    if step.kind is CaseEventKind.returned and not (step.note and step.note.strip()):
        add("note", "returned needs the reason in note (退单理由)", "missing")
    if step.kind is CaseEventKind.reclassified:
        if step.classification is None:
            add("classification", "reclassified needs classification.category", "missing")
        elif step.classification.category not in categories:
            add("classification", f"{step.classification.category!r} is not a level-1 category", "unknown_category")
    if step.kind is CaseEventKind.dispatched:
        if not step.queue_id:
            add("queue_id", "dispatched needs the queue_id to dispatch the case to", "missing")
        elif not queue_is_known(step.queue_id):
            add("queue_id", f"{step.queue_id!r} is not a known queue", "unknown_queue")
    return problems


def event_id_for(call_id: uuid.UUID, key_name: str, idempotency_key: str | None) -> uuid.UUID:
    """Deterministic from the client's Idempotency-Key (per case and key), random without one."""
    if idempotency_key:
        return uuid.uuid5(HOTLINE_NAMESPACE, f"case-step\x1f{call_id}\x1f{key_name}\x1f{idempotency_key}")
    return uuid.uuid4()


def manual_assignment(step: CaseStepIn, case: Mapping[str, Any], key: KeyRecord, catalogue_version: str) -> Assignment:
    """A supervisor's dispatch (人工派单) of the case to ``step.queue_id``: the next attempt."""
    current = case.get("assignment") if isinstance(case.get("assignment"), Mapping) else {}
    current = current or {}
    queue_id = str(step.queue_id)
    # step_problems has checked it is a known queue; anything else is taken as a manual queue.
    queue = QueueId.try_parse(queue_id)
    kind, name = (queue.kind, queue.unit_name) if queue else (UnitKind.manual, queue_id)
    district, street = current.get("district"), current.get("street")
    if queue is not None and queue.kind is UnitKind.street:
        district, street = queue.district, queue.street
    elif queue is not None and queue.kind is UnitKind.district:
        district = queue.district
    reason = f"dispatched by supervisor {key.name}" + (f": {step.note}" if step.note else "")
    return Assignment(
        queue_id=queue_id,
        unit_kind=kind,
        unit_name=name,
        district=district,
        street=street,
        rule_id=None,
        catalogue_version=catalogue_version,
        reason=reason,
        priority=int(current.get("priority") or 3),
        attempt=int(current.get("attempt") or 1) + 1,
    )


def case_event(
    step: CaseStepIn,
    case: Mapping[str, Any],
    key: KeyRecord,
    *,
    call_id: uuid.UUID,
    event_id: uuid.UUID,
    catalogue_version: str,
) -> CaseEvent:
    """The CaseEvent of a checked step."""
    role = role_of(key, case)
    classification = None
    if step.kind is CaseEventKind.reclassified and step.classification is not None:
        classification = Classification(
            category=step.classification.category,
            subcategory=step.classification.subcategory,
            item=step.classification.item,
            confidence=1.0,
            model_version=f"operator:{key.name}",
        )
    assignment = None
    if step.kind is CaseEventKind.dispatched:
        assignment = manual_assignment(step, case, key, catalogue_version)
    return CaseEvent(
        event_id=event_id,
        call_id=call_id,
        kind=step.kind,
        actor=key.name,
        actor_queue=lead_queue(case) if role == "lead" else None,
        note=step.note,
        departments=list(dict.fromkeys(step.departments)) if step.kind is CaseEventKind.whistle else [],
        callback_result=step.callback_result if step.kind is CaseEventKind.callback else None,
        classification=classification,
        assignment=assignment,
    )
