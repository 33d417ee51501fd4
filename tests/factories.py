"""One place for the calls, events and intake submissions the tests build.

Each factory returns a valid contract object (``shared.events``) with plain defaults, so a test names only the
fields it is about and a contract change is one edit here. Ids are deterministic: a call's ``call_id`` is
``call_id_for(source_system, external_id)``, as intake derives it. Nothing here reads a clock unless the test
passes the moment (``received_at=utc_now()``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events import (
    Assignment,
    Call,
    CallClassified,
    CallReceived,
    CallRouted,
    CaseEvent,
    CaseEventKind,
    Channel,
    Classification,
    Contact,
    Location,
    ProgrammeItemKind,
    ProgrammeItemUpdated,
    RequestedService,
    UnitKind,
    call_id_for,
)

SOURCE_SYSTEM = "12345-cti"
RECEIVED_AT = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
CONTACT = Contact(hash="a" * 64, masked="138****5678")


def call(
    external_id: str = "T-1",
    *,
    source_system: str = SOURCE_SYSTEM,
    channel: Channel | str = Channel.phone,
    subject: str = "",
    body: str = "请尽快处理",
    language: str = "zh",
    address: str | None = None,
    location: Location | None = None,
    contact: Contact | None = None,
    received_at: datetime = RECEIVED_AT,
    requested: RequestedService | None = None,
    media_url: str | None = None,
) -> Call:
    """A citizen's request as intake records it; ``address`` is a shorthand for ``Location(address=...)``."""
    if location is not None and address is not None:
        raise ValueError("give address or location, not both")
    return Call(
        channel=Channel(channel),
        source_system=source_system,
        external_id=external_id,
        subject=subject,
        body=body,
        language=language,
        location=location if location is not None else Location(address=address),
        contact=contact,
        received_at=received_at,
        requested=requested,
        media_url=media_url,
    )


def classification(
    category: str = "城乡建设",
    *,
    subcategory: str | None = None,
    item: str | None = None,
    issue: str | None = None,
    confidence: float = 0.9,
    model_version: str = "test",
    explanation: Sequence[str] = (),
    needs_review: bool = False,
) -> Classification:
    """The classifier's decision."""
    return Classification(
        category=category,
        subcategory=subcategory,
        item=item,
        issue=issue,
        confidence=confidence,
        model_version=model_version,
        explanation=list(explanation),
        needs_review=needs_review,
    )


def received(of: Call | None = None) -> CallReceived:
    """``calls.received`` for the call ``of`` (default: ``call()``)."""
    the_call = of if of is not None else call()
    return CallReceived(call_id=call_id_for(the_call.source_system, the_call.external_id), call=the_call)


def classified(of: Call | None = None, decision: Classification | None = None) -> CallClassified:
    """``calls.classified`` for the call ``of`` with the classifier's ``decision`` (defaults: ``call()``,
    ``classification()``)."""
    return CallClassified.from_received(received(of), decision if decision is not None else classification())


def routed(
    external_id: str = "T-1",
    *,
    received_at: datetime = RECEIVED_AT,
    category: str = "劳动和社会保障",
    issue: str | None = None,
    queue_id: str = "street:大兴区/西红门镇",
    unit_kind: UnitKind | str = UnitKind.street,
    unit_name: str = "西红门镇",
    district: str | None = "大兴区",
    source_system: str = "test-metrics",
) -> CallRouted:
    """``calls.routed``: a wage-arrears call dispatched by rule R-001 to ``queue_id`` (by default the street
    西红门镇), with the labour bureau cooperating, due in 2 hours (response) and 7 days (resolution)."""
    kind = UnitKind(unit_kind)
    street = unit_name if kind == UnitKind.street else None
    return CallRouted(
        call_id=call_id_for(source_system, external_id),
        call=call(
            external_id,
            source_system=source_system,
            subject="工资拖欠",
            body="公司拖欠三个月工资",
            location=Location(district=district, street=street),
            contact=CONTACT,
            received_at=received_at,
        ),
        classification=classification(
            category, subcategory="劳动保障", item="拖欠工资", issue=issue, confidence=0.9, model_version="t1"
        ),
        assignment=Assignment(
            queue_id=queue_id,
            unit_kind=kind,
            unit_name=unit_name,
            district=district,
            street=street,
            cooperating_units=["department:市人力资源社会保障局"],
            rule_id="R-001",
            catalogue_version="2026.1",
            reason="wage arrears go to the street",
            response_due_at=received_at + timedelta(hours=2),
            resolution_due_at=received_at + timedelta(days=7),
        ),
    )


def case_step(
    of: CallReceived | CallClassified | CallRouted | uuid.UUID,
    kind: CaseEventKind | str,
    *,
    actor: str = "test",
    **fields: Any,
) -> CaseEvent:
    """``cases.events``: the lifecycle step ``kind`` on the case of ``of`` (an event of the call, or its id);
    ``fields`` are the step's own (note, departments, callback_result, assignment, ...)."""
    call_id = of if isinstance(of, uuid.UUID) else of.call_id
    return CaseEvent(call_id=call_id, kind=CaseEventKind(kind), actor=actor, **fields)


def programme_update(
    status: str = "done",
    *,
    problem_id: str = "wage-arrears",
    item_kind: ProgrammeItemKind | str = ProgrammeItemKind.task,
    item_id: str = "t1",
    actor: str = "test",
    note: str | None = None,
) -> ProgrammeItemUpdated:
    """``programme.events``: a 每月一题 task (or policy) of ``problem_id`` reported in ``status``."""
    return ProgrammeItemUpdated(
        problem_id=problem_id,
        item_kind=ProgrammeItemKind(item_kind),
        item_id=item_id,
        status=status,
        note=note,
        actor=actor,
    )


def submission(external_id: str = "CTI-1", **fields: Any) -> dict[str, Any]:
    """The JSON body of ``POST /v1/calls`` (one call, as a source system sends it); ``fields`` add or replace."""
    return {
        "channel": "phone",
        "source_system": SOURCE_SYSTEM,
        "external_id": external_id,
        "body": "小区门口路灯坏了一个星期",
        **fields,
    }
