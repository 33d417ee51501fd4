"""Pure rules of case steps submitted through intake: who may take which step, what each step needs,
and the CaseEvent it becomes. No I/O: the case document and the key are passed in.

Who may act (API-key scopes per unit):
- a key with the ``supervisor`` scope: every step on every case;
- a key with ``cases:act`` and the case's lead queue among its ``units``: the unit's own steps
  (accepted, responded, returned, resolved, assigned: naming its handler 承办人, unassigned: taking the case
  back from it (取消指派), and whistle when the unit is
  a street/town: 吹哨报到),
  not the supervisor-only ones;
- a cooperating unit (summoned by a whistle, or named by the catalogue rule): no step. It sees the case
  in its queue and reports to the lead unit, which takes the steps (one unit answers for a case);
- anyone else: no step, and intake answers it the same 404 as for an unknown case (it may not learn that
  the case exists, its status or the queue holding it).

The rules themselves (``may_take``, ``permitted_steps``, ``STEP_NEEDS``) are ``shared.lifecycle``'s, shared
with the console and the metrics writer; this module maps an API key and a case document onto them.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.intake.schemas import FreeText
from shared.api_keys import CASES_ACT, SUPERVISOR, KeyRecord, console_operators
from shared.cases import CaseDocument
from shared.catalogue import Catalogue
from shared.clock import DEFAULT_TIMEZONE
from shared.deadlines import resolution_due
from shared.events import (
    ASSIGNEE_MAX_CHARS,
    HOTLINE_NAMESPACE,
    Assignment,
    CallbackResult,
    CaseEvent,
    CaseEventKind,
    Classification,
    UnitKind,
)
from shared.lifecycle import (
    RETURN_NEEDS_REASON,
    ROUTER_ONLY,
    STEP_NEEDS,
    STREET_ONLY,
    CaseStatus,
    Role,
    assignee_problem,
    may_take,
    next_status,
    permitted_steps,
)
from shared.masking import mask_contacts, mask_optional
from shared.queues import MANUAL_CLASSIFICATION_QUEUE, MANUAL_DISPATCH_QUEUE, QueueId

# A stored case: as read through shared.cases.CaseReadModel, or the document itself (tests, tools).
CaseLike = CaseDocument | Mapping[str, Any]
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
                {"kind": "assigned", "assignee": "wang.fang"},
            ]
        },
    )

    kind: CaseEventKind = Field(description="Which step (linked is the router's own).")
    note: FreeText | None = Field(None, max_length=4000, description="Free text; returned needs the reason (退单理由).")
    departments: list[str] = Field(default_factory=list, description="whistle: department queue ids summoned.")
    callback_result: CallbackResult | None = Field(None, description="callback: the citizen's answer.")
    classification: ReclassificationIn | None = Field(None, description="reclassified: the corrected category.")
    queue_id: str | None = Field(None, description="dispatched (supervisor): the queue to dispatch the case to.")
    assignee: FreeText | None = Field(
        None,
        max_length=ASSIGNEE_MAX_CHARS,
        description="assigned: the operator of the lead unit who handles the case (承办人), by console user name.",
    )


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


def lead_queue(case: CaseLike) -> str | None:
    """The queue that holds the case (its lead unit)."""
    return CaseDocument.of(case).lead_queue


def cooperating_queues(case: CaseLike) -> set[str]:
    """Queues of the units cooperating on the case (whistle, or the catalogue rule)."""
    case = CaseDocument.of(case)
    queues = set(case.assignment.cooperating_units) | set(case.queue_ids)
    lead = case.lead_queue
    return queues - {lead} if lead else queues


def role_of(key: KeyRecord, case: CaseLike) -> Role:
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


def permission_problem(key: KeyRecord, case: CaseLike, kind: CaseEventKind) -> str | None:
    """Why the key may not take ``kind`` on this case (for a 403), or None when it may."""
    role = role_of(key, case)
    if kind in ROUTER_ONLY:
        return f"'{kind}' is decided by the router, not submitted (a supervisor undoes a link with 'unlinked')"
    lead = lead_queue(case)
    if may_take(role, kind, lead_queue=lead):
        return None
    lead = lead or "no unit"
    if role == "none" and not (key.allows(CASES_ACT) or key.allows(SUPERVISOR)):
        return f"API key '{key.name}' lacks the scope {CASES_ACT} or {SUPERVISOR}"
    if role == "none":
        return f"API key '{key.name}' does not act for {lead}, which holds this case"
    if role == "cooperating":
        return f"cooperating units report to the lead unit {lead}, which takes the steps"
    if kind in STREET_ONLY:
        return f"'{kind}' is a street/town's step (吹哨报到: streets summon departments); {lead} does not take it"
    return f"'{kind}' needs the {SUPERVISOR} scope"


def steps_for(key: KeyRecord, case: CaseLike) -> tuple[Role, list[CaseEventKind]]:
    """The key's role and the steps it may take in the case's status now (for the console)."""
    case = CaseDocument.of(case)
    role = role_of(key, case)
    return role, permitted_steps(role, case.status, lead_queue=case.lead_queue, assignee=case.assignee)


def status_problem(case: CaseLike, kind: CaseEventKind) -> tuple[str, str | None]:
    """(status after the step, None), or (status now, the reason it is illegal) for a 409: the status's rule, and
    for ``unassigned`` that a handler (承办人) is named (``shared.lifecycle.assignee_problem``)."""
    document = CaseDocument.of(case)
    status = document.status
    try:
        after = str(next_status(status, kind))
    except ValueError as exc:  # IllegalTransition, or a status this version does not know
        reason = str(exc) if status in CaseStatus.__members__ else f"the case's status {status!r} is not known"
        return status, reason
    refused = assignee_problem(kind, document.assignee)
    return (status, refused) if refused else (after, None)


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

    need = STEP_NEEDS.get(step.kind)
    if need is not None:
        field = "queue_id" if need.field == "assignment" else need.field  # the assignment is built from it
        value = getattr(step, field)
        if not (value.strip() if isinstance(value, str) else value):
            add(field, need.message, "missing")
    if step.kind is CaseEventKind.returned and not (step.note and step.note.strip()):
        add(RETURN_NEEDS_REASON.field, RETURN_NEEDS_REASON.message, "missing")
    if step.kind is CaseEventKind.whistle:
        unknown = [d for d in step.departments if d not in department_queues]
        if unknown:
            add("departments", f"not departments of the dispatch catalogue: {unknown}", "unknown_department")
    if step.kind is CaseEventKind.reclassified and step.classification is not None:
        if step.classification.category not in categories:
            add("classification", f"{step.classification.category!r} is not a level-1 category", "unknown_category")
    if step.kind is CaseEventKind.dispatched and step.queue_id and not queue_is_known(step.queue_id):
        add("queue_id", f"{step.queue_id!r} is not a known queue", "unknown_queue")
    return problems


def assignee_operator_problem(step: CaseStepIn, case: CaseLike, keys: Sequence[KeyRecord]) -> str | None:
    """Why ``step`` cannot name its assignee (承办人), for a 422, or None. When intake knows the console's users
    of the lead unit (their ``console:NAME`` keys act for its queue: ``console_operators``), the assignee must be
    one of them; when it knows none (no console user of that unit: an integration naming its own operators),
    any name is taken, as intake cannot tell."""
    if step.kind is not CaseEventKind.assigned or not step.assignee:
        return None
    lead = lead_queue(case)
    operators = console_operators(keys, lead) if lead else []
    name = step.assignee.strip()
    if not operators or name in operators:
        return None
    return f"{name!r} is not an operator of {lead}; its operators: {', '.join(operators)}"


def event_id_for(call_id: uuid.UUID, key_name: str, idempotency_key: str | None) -> uuid.UUID:
    """Deterministic from the client's Idempotency-Key (per case and key), random without one."""
    if idempotency_key:
        return uuid.uuid5(HOTLINE_NAMESPACE, f"case-step\x1f{call_id}\x1f{key_name}\x1f{idempotency_key}")
    return uuid.uuid4()


def manual_assignment(
    step: CaseStepIn, case: CaseLike, key: KeyRecord, catalogue: Catalogue, now: datetime, timezone: str
) -> Assignment:
    """A supervisor's dispatch (人工派单) of the case to ``step.queue_id``: the next attempt.

    The new unit's clock starts at the dispatch, like a re-dispatch after a return, on the service terms
    of the rule the case was routed by (``Catalogue.service_terms``): a manual dispatch never leaves a
    case without deadlines.
    """
    current = CaseDocument.of(case).assignment
    terms = catalogue.service_terms(current.rule_id)
    queue_id = str(step.queue_id)
    # step_problems has checked it is a known queue; anything else is taken as a manual queue.
    queue = QueueId.try_parse(queue_id)
    kind, name = (queue.kind, queue.unit_name) if queue else (UnitKind.manual, queue_id)
    district, street = current.district, current.street
    if queue is not None and queue.kind is UnitKind.street:
        district, street = queue.district, queue.street
    elif queue is not None and queue.kind is UnitKind.district:
        district = queue.district
    reason = f"dispatched by supervisor {key.name}" + (f": {mask_contacts(step.note)}" if step.note else "")
    return Assignment(
        queue_id=queue_id,
        unit_kind=kind,
        unit_name=name,
        district=district,
        street=street,
        rule_id=None,
        catalogue_version=catalogue.version,
        reason=reason,
        priority=int(current.priority or terms.priority),
        response_due_at=now + timedelta(hours=terms.response_hours),
        resolution_due_at=resolution_due(
            now, terms.resolution_days, terms.calendar, holidays=catalogue.holidays, timezone=timezone
        ),
        attempt=int(current.attempt or 1) + 1,
    )


def case_event(
    step: CaseStepIn,
    case: CaseLike,
    key: KeyRecord,
    *,
    call_id: uuid.UUID,
    event_id: uuid.UUID,
    catalogue: Catalogue,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> CaseEvent:
    """The CaseEvent of a checked step."""
    case = CaseDocument.of(case)
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
        assignment = manual_assignment(step, case, key, catalogue, now, timezone)
    return CaseEvent(
        event_id=event_id,
        call_id=call_id,
        kind=step.kind,
        actor=key.name,
        actor_queue=lead_queue(case) if role == "lead" else None,
        note=mask_optional(step.note),  # notes are read downstream: contacts masked (docs/security.md)
        departments=list(dict.fromkeys(step.departments)) if step.kind is CaseEventKind.whistle else [],
        callback_result=step.callback_result if step.kind is CaseEventKind.callback else None,
        classification=classification,
        assignment=assignment,
        assignee=step.assignee.strip() if step.kind is CaseEventKind.assigned and step.assignee else None,
    )
