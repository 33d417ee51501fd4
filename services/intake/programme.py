"""Pure rules of 每月一题 programme updates submitted through intake: who may submit, what is checked,
and the ``ProgrammeItemUpdated`` event an update becomes. No I/O: the programme document is passed in.

The programme (problems, tasks, policies) is read with ``shared.programme.load_programme``, the shared
file format and loader, so intake and metrics check updates against the same file
(``HOTLINE_PROGRAMME_PATH``, default: the shipped one).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.intake.schemas import FreeText
from shared.api_keys import PROGRAMME_WRITE, SUPERVISOR, KeyRecord
from shared.events import HOTLINE_NAMESPACE, ProgrammeItemKind, ProgrammeItemUpdated
from shared.programme import KIND_OF_LIST, ProgrammeError, UnknownProgrammeItem, check_update


class ProgrammeUpdateIn(BaseModel):
    """A task's or policy's new status."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"status": "in_progress"}, {"status": "done", "note": "已完成在建工程欠薪隐患排查"}]
        },
    )

    status: str = Field(
        min_length=1,
        max_length=50,
        description="tasks: planned, in_progress, done; policies: planned, drafting, issued.",
    )
    note: FreeText | None = Field(None, max_length=2000, description="Free text, e.g. what was done.")


class ProgrammeUpdateAccepted(BaseModel):
    """The broker acknowledged the update's ProgrammeItemUpdated event (acks=all)."""

    problem_id: str
    item_kind: ProgrammeItemKind
    item_id: str
    status: str
    event_id: uuid.UUID = Field(description="Deterministic from Idempotency-Key when given.")
    topic: str


def may_update_programme(key: KeyRecord) -> bool:
    """Whether the key may report programme progress: the supervisor or the programme:write scope."""
    return key.allows(SUPERVISOR) or key.allows(PROGRAMME_WRITE)


def update_problem(
    programme: Mapping[str, Any], problem_id: str, item_list: str, item_id: str, status: str
) -> tuple[int, str] | None:
    """None when the update fits the programme, else (HTTP status, why): 404 no such item, 422 wrong status."""
    try:
        check_update(programme, problem_id, item_list, item_id, status)
    except UnknownProgrammeItem as exc:
        return 404, str(exc)
    except ProgrammeError as exc:
        return 422, str(exc)
    return None


def event_id_for(
    problem_id: str, item_list: str, item_id: str, key_name: str, idempotency_key: str | None
) -> uuid.UUID:
    """Deterministic from the client's Idempotency-Key (per item and key), random without one."""
    if idempotency_key:
        name = f"programme-update\x1f{problem_id}\x1f{item_list}\x1f{item_id}\x1f{key_name}\x1f{idempotency_key}"
        return uuid.uuid5(HOTLINE_NAMESPACE, name)
    return uuid.uuid4()


def programme_event(
    update: ProgrammeUpdateIn,
    *,
    problem_id: str,
    item_list: str,
    item_id: str,
    key: KeyRecord,
    event_id: uuid.UUID,
    now: datetime,
) -> ProgrammeItemUpdated:
    """The event of a checked update (``item_list`` is tasks or policies, as in the URL)."""
    return ProgrammeItemUpdated(
        event_id=event_id,
        occurred_at=now,
        problem_id=problem_id,
        item_kind=KIND_OF_LIST[item_list],
        item_id=item_id,
        status=update.status,  # type: ignore[arg-type]  # checked against the kind by update_problem
        note=update.note,
        actor=key.name,
    )
