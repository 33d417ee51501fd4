"""The read API's response models (what `GET /v1/...` answers, in the OpenAPI schema)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import HotSpotAlert
from shared.masking import mask_contacts


class OldestWaiting(BaseModel):
    """The case that has waited longest in a queue."""

    call_id: str
    received_at: datetime
    age_seconds: float = Field(description="How long it has waited, at the time of the answer.")


class QueueView(BaseModel):
    """A queue with its depth (open cases) and oldest waiting case."""

    queue_id: str
    unit_kind: str = Field(description="street (街乡镇), department (委办局), district or manual.")
    unit_name: str
    district: str | None
    depth: int = Field(description="Open cases waiting in the queue (待办).")
    dispatched_total: int = Field(description="Cases ever dispatched to the queue.")
    overdue: int = Field(0, description="Open cases of the queue past a deadline (超期).")
    unassigned: int = Field(0, description="Open cases of the queue no operator was assigned yet (承办人).")
    assignees: dict[str, int] = Field(
        default_factory=dict, description="Open cases of the queue per assignee (承办人), most loaded first."
    )
    oldest_waiting: OldestWaiting | None = Field(description="Oldest waiting case (最早等待), if any.")


class QueuesView(BaseModel):
    """Every queue, as of ``generated_at``."""

    generated_at: datetime
    queues: list[QueueView]


class CaseView(BaseModel):
    """A case (one per call) as the metrics store keeps it, with its history; the contact only hashed and masked."""

    model_config = ConfigDict(extra="allow")

    call_id: str
    status: str
    queue_id: str
    district: str | None = None
    received_at: datetime
    routed_at: datetime
    stored_at: datetime | None = Field(None, description="When the case became visible in its queue.")
    month: str = Field(description="Month of receipt in the city's time zone (YYYY-MM).")
    day: str = Field(description="Day of receipt in the city's time zone (YYYY-MM-DD).")
    call: dict[str, Any]
    classification: dict[str, Any]
    assignment: dict[str, Any]
    queue_ids: list[str] = Field(default_factory=list, description="Lead and cooperating queues (吹哨报到).")
    history: list[dict[str, Any]] = Field(
        default_factory=list, description="Applied and rejected lifecycle steps, oldest first."
    )
    overdue: dict[str, Any] = Field(default_factory=dict, description="Deadlines missed: response, resolution.")
    assignee: str | None = Field(
        None, description="承办人: the operator of the lead unit handling the case (an `assigned` step), if any."
    )
    assigned_at: datetime | None = Field(None, description="When the assignee was named.")

    @classmethod
    def of(cls, case: Mapping[str, Any]) -> CaseView:
        """The stored case as the API shows it: phone numbers and e-mail addresses in its free text (subject,
        body, address, step notes, the dispatch reason) masked by ``shared.masking``."""
        view = cls.model_validate(case)
        call = dict(view.call)
        for field in ("subject", "body"):
            if isinstance(call.get(field), str):
                call[field] = mask_contacts(call[field])
        location = call.get("location")
        if isinstance(location, Mapping) and isinstance(location.get("address"), str):
            call["location"] = {**location, "address": mask_contacts(location["address"])}
        assignment = dict(view.assignment)
        if isinstance(assignment.get("reason"), str):
            assignment["reason"] = mask_contacts(assignment["reason"])
        history = [
            {**step, "note": mask_contacts(step["note"])} if isinstance(step.get("note"), str) else step
            for step in view.history
        ]
        return view.model_copy(update={"call": call, "assignment": assignment, "history": history})


class AssigneeLoadView(BaseModel):
    """One operator's open cases in the queue."""

    assignee: str = Field(description="The operator's name (承办人).")
    open: int = Field(description="Open cases of the queue assigned to the operator.")


class QueueLoadView(BaseModel):
    """A queue's open cases (as lead unit) per operator and unassigned: ``open = unassigned + Σ assignees``."""

    queue_id: str
    open: int = Field(description="Open cases the queue leads (its depth).")
    unassigned: int = Field(description="Open cases no operator was assigned yet.")
    assignees: list[AssigneeLoadView] = Field(description="Operators with open cases, most loaded first.")


class CasesView(BaseModel):
    """A page of a queue's open cases; pass ``next_after``/``next_after_id`` as ``after``/``after_id`` (or
    ``next_before``/``next_before_id`` as ``before``/``before_id``) next."""

    queue_id: str
    order: Literal["oldest", "newest", "urgent"]
    cases: list[CaseView]
    next_before: datetime | None = None
    next_after: datetime | None = None
    next_before_id: str | None = Field(None, description="The cursor's tie-breaker: the last listed case's call id.")
    next_after_id: str | None = Field(None, description="The cursor's tie-breaker: the last listed case's call id.")


class CaseListView(BaseModel):
    """Cases matching a query, newest first (at most ``limit``)."""

    cases: list[CaseView]


class CaseSearchView(BaseModel):
    """Cases an operator searched for: how many match, and the first ``limit`` in the order asked for."""

    total: int = Field(
        description="Cases matching the search (all of them, not only those listed); for a word search over the "
        "whole store, those of this page (the store is read a page at a time: see next)."
    )
    sort: str
    cases: list[CaseView]
    next: str | None = Field(
        None,
        description="A word search over the whole store: the cursor of the next page (pass it as before=), None "
        "when the oldest case was reached. Pages are newest first and each looks at a bounded number of cases, so "
        "a page may list fewer than limit (even none) and still have a next.",
    )
    looked_at: int | None = Field(None, description="A word search over the whole store: the cases this page read.")


class MonthlyCountView(BaseModel):
    """Cases dispatched in the month for one value."""

    value: str
    label: str | None = None
    count: int


class MonthlyView(BaseModel):
    """Monthly counts for one dimension."""

    month: str
    dimension: str
    total: int
    counts: list[MonthlyCountView]


class UnitScoreView(BaseModel):
    """A unit's month: counts, the three rates (0-1), the composite score (0-100) and its rank."""

    unit_id: str
    label: str
    unit_kind: str
    rank: int | None
    composite: float | None = Field(description="Weighted score out of 100 (default 10/50/40).")
    response_rate: float | None = Field(description="响应率 = responded on time / dispatched.")
    resolution_rate: float | None = Field(description="解决率 = standing resolved / dispatched.")
    satisfaction_rate: float | None = Field(
        description="满意率 = (satisfied + 0.9 x basically satisfied) / callbacks reached."
    )
    counts: dict[str, int]


class UnitsView(BaseModel):
    """A month's scoreboard for one kind of unit, ranked."""

    month: str
    kind: str
    weights: dict[str, float]
    units: list[UnitScoreView]


class TopEntry(BaseModel):
    """A street/town by request volume."""

    rank: int
    unit_id: str
    label: str
    volume: int


class TopView(BaseModel):
    """The streets/towns with the most requests in a month."""

    month: str
    streets: list[TopEntry]


class SupervisionView(BaseModel):
    """Streets that enter, stay in or may leave municipal supervision, with the months that decided it."""

    month: str
    criteria: dict[str, float]
    streets: list[dict[str, Any]]


# 每月一题 and hot spots. The routes answer the figures as the scoreboard builds them (dicts, so that the JSON is
# what it always was); these models document that answer in the OpenAPI schema, the console's fakes are
# built from them, and tests/unit/metrics/test_api_views.py holds the real answers to them.


class ProblemTrendRow(BaseModel):
    """One 每月一题 problem's monthly volume."""

    model_config = ConfigDict(extra="forbid")

    problem: str = Field(description="每月一题 problem id (or another issue seen in the months).")
    months: list[str] = Field(description="The months of the series, oldest first (YYYY-MM).")
    volumes: list[int] = Field(description="Cases per month, in the order of months.")
    volume: int = Field(description="Cases in the month asked for.")
    previous: int = Field(description="Cases in the month before.")
    change: float | None = Field(
        description="(volume - previous) / previous, 4 places; None without a previous volume."
    )


class TrendSummaryView(BaseModel):
    """How many problems fell month on month ("15 of 27 problems fell, 7 by more than 10%")."""

    model_config = ConfigDict(extra="forbid")

    problems: int
    fell: int
    fell_more_than: int
    threshold: float
    text: str


class ProblemsTrendView(BaseModel):
    """``GET /v1/problems/trend``: each problem's monthly volume and the summary."""

    model_config = ConfigDict(extra="forbid")

    month: str
    problems: list[ProblemTrendRow]
    summary: TrendSummaryView


class ProgrammeProgressView(BaseModel):
    """Tasks done and policies issued, against the annual targets (or the items listed)."""

    model_config = ConfigDict(extra="forbid")

    tasks_done: int
    tasks_total: int
    task_target: int
    task_share: float | None
    policies_issued: int
    policies_planned: int
    policy_target: int
    policy_share: float | None
    text: str


class ProgrammeItemView(BaseModel):
    """A task or policy of the programme file with its latest status (the file's other fields as written)."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    version: int = Field(description="0: as in the file; else the number of updates applied.")
    updated_at: datetime | None = Field(None, description="When the latest update was applied (UTC).")


class ProgrammeProblemView(BaseModel):
    """A problem of the programme file (its other fields as written) with its items, progress and trend."""

    model_config = ConfigDict(extra="allow")

    id: str
    tasks: list[ProgrammeItemView]
    policies: list[ProgrammeItemView]
    progress: ProgrammeProgressView
    trend: ProblemTrendRow | None


class ProgrammeView(BaseModel):
    """``GET /v1/programme``: the 每月一题 programme with each item's status, progress and volume trend."""

    model_config = ConfigDict(extra="forbid")

    programme: str | None
    year: int | None
    progress: ProgrammeProgressView
    summary: TrendSummaryView
    problems: list[ProgrammeProblemView]


class HotSpotView(HotSpotAlert):
    """A stored hot spot: the ``HotSpotAlert`` published for it and when it was found."""

    detected_at: datetime | None = Field(None, description="When the worker found it (UTC).")


class HotSpotsView(BaseModel):
    """``GET /v1/hotspots``: hot spots (主动治理), newest first."""

    model_config = ConfigDict(extra="forbid")

    hot_spots: list[HotSpotView]
