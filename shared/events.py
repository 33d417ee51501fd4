"""Event contracts of every Hotline topic (pydantic v2).

Every event carries an envelope: ``event_id``, ``occurred_at`` (UTC), ``schema_version`` and the
aggregate id ``call_id``, which is also the Kafka message key. Programme events (``ProgrammeItemUpdated``)
are about a 每月一题 problem, not a call: they carry the same base fields (``EventBase``) and are keyed by
``problem_id``. Within a version only optional fields may be added. Downstream teams that do not use
Python subscribe with the JSON Schemas generated from these models into ``docs/topics/`` (``hotline schemas``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared import topics
from shared.clock import Instant, ReceivedAt
from shared.masking import mask_contacts, mask_optional

ASSIGNEE_MAX_CHARS = 100
"""The longest operator name an ``assigned`` step carries."""

MAX_TEXT_CHARS = 20_000
"""The longest subject or body an event carries (intake's own, configurable limit is at most this)."""

# Namespace of deterministic ids: the same (source system, external id) always gives the same call_id,
# and an event derived from another always gets the same event_id, so replays are recognisable.
HOTLINE_NAMESPACE = uuid.UUID("6f1c1f3e-7c53-4c1e-9a51-12345a0c0d11")


def utc_now() -> datetime:
    return datetime.now(UTC)


def call_id_for(source_system: str, external_id: str) -> uuid.UUID:
    """The deterministic call id of a request (UUIDv5 of its source system and external id)."""
    return uuid.uuid5(HOTLINE_NAMESPACE, f"{source_system}\x1f{external_id}")


def derived_event_id(parent_event_id: uuid.UUID, step: str) -> uuid.UUID:
    """The id of the event a service derives from ``parent_event_id``: stable across replays."""
    return uuid.uuid5(parent_event_id, step)


class Channel(StrEnum):
    """How the citizen reached the hotline."""

    phone = "phone"
    web = "web"
    app = "app"
    wechat = "wechat"
    weibo = "weibo"
    open311 = "open311"
    api = "api"


class UnitKind(StrEnum):
    """The kinds of handling unit a case can be dispatched to."""

    street = "street"  # 街乡镇: a street, town or township government, by direct dispatch (直派)
    department = "department"  # 委办局: a municipal or district department
    district = "district"  # 区级分中心: a district sub-centre of the hotline
    manual = "manual"  # 人工派单 / 人工分拣: an operator must decide


class Location(BaseModel):
    """Where the problem is, as the citizen said it and as resolved."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(None, max_length=500, description="Free address text as the citizen said it.")
    district: str | None = Field(None, max_length=50, description="District (区), e.g. 大兴区.")
    street: str | None = Field(None, max_length=50, description="Street/town (街乡镇), e.g. 西红门镇.")
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude, WGS-84 degrees.")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude, WGS-84 degrees.")


class Contact(BaseModel):
    """The citizen's contact, never as plain text in an event."""

    model_config = ConfigDict(extra="forbid")

    hash: str = Field(
        max_length=128, description="Salted SHA-256 of the normalised contact (to link a citizen's calls)."
    )
    masked: str = Field(max_length=64, description="Masked form for operators, e.g. 138****5678.")


class RequestedService(BaseModel):
    """The service the citizen chose when filing (e.g. an Open311 ``service_code``), as a taxonomy path.

    The classifier keeps this category unless the model is sure it is wrong (docs/open311.md).
    """

    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=100, description="The service code chosen, e.g. 03-01 or mq-wage-arrears.")
    category: str = Field(description="Level-1 category the service stands for.")
    subcategory: str | None = Field(None, description="Level-2 category, when the service names one.")
    item: str | None = Field(None, description="Level-3 category, when the citizen chose one.")
    issue: str | None = Field(None, description="每月一题 problem id, when the service is one.")
    attributes: dict[str, list[str]] = Field(
        default_factory=dict, description="Answers to the service's extra questions, by attribute code."
    )


class Call(BaseModel):
    """A citizen's request (诉求) as received."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel = Field(description="How the request came in.")
    source_system: str = Field(
        max_length=100, description="The system that submitted it (e.g. 12345-cti, open311-gateway)."
    )
    external_id: str = Field(max_length=200, description="The request's id in the source system.")
    subject: str = Field("", max_length=MAX_TEXT_CHARS, description="Subject line, possibly empty.")
    body: str = Field(max_length=MAX_TEXT_CHARS, description="What the citizen said or wrote (Chinese or English).")
    language: str = Field(max_length=8, description="ISO 639-1 language of the text: zh or en (detected if not given).")
    location: Location = Field(default_factory=Location, description="Where the problem is.")
    contact: Contact | None = Field(None, description="The citizen's contact (hashed and masked).")
    received_at: ReceivedAt = Field(
        description="When the hotline received the request (UTC); between 2000-01-01 and 2100-01-01, not in the future."
    )
    requested: RequestedService | None = Field(None, description="The service the citizen chose, if any.")
    media_url: str | None = Field(None, max_length=2000, description="A URL to media of the request (a photo).")


class EventBase(BaseModel):
    """Fields every event carries whatever its aggregate: id, time and schema version."""

    model_config = ConfigDict(extra="forbid")

    topic: ClassVar[str]
    key_description: ClassVar[str | None] = None  # the message key in words, for the topic's JSON Schema

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique id of this event.")
    occurred_at: Instant = Field(default_factory=utc_now, description="When it happened (UTC, ISO 8601).")
    schema_version: int = Field(1, description="Version of this event's schema within its topic.")

    def key(self) -> bytes:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class Envelope(EventBase):
    """Fields every event about a call carries: the base fields and the aggregate id ``call_id``."""

    call_id: uuid.UUID = Field(description="The call (and case) this event is about; the message key.")

    def key(self) -> bytes:
        return str(self.call_id).encode()


class CallReceived(Envelope):
    """A request was accepted by intake (接诉). Topic ``hotline.calls.received.v1``."""

    topic: ClassVar[str] = topics.CALLS_RECEIVED
    event_type: Literal["call.received"] = Field("call.received", description="Event type.")
    call: Call = Field(description="The request.")


PROBE_SOURCE_SYSTEM = "hotline-probe"
"""The source system of readiness probes: calls ``hotline up`` sends through the pipeline before it says the
platform runs. The classifier and router treat them as any call (so the probe proves they consume); the
metrics worker never stores them, so no case, counter or scoreboard ever shows one. Subscribers of the call
topics should skip them (docs/asyncapi.md)."""


def is_probe(call: Call) -> bool:
    """Whether ``call`` is a readiness probe (``PROBE_SOURCE_SYSTEM``), which no store keeps."""
    return call.source_system == PROBE_SOURCE_SYSTEM


def probe_received(now: datetime | None = None) -> CallReceived:
    """A fresh readiness probe: a call with no contact and no address (it can duplicate nothing)."""
    external_id = uuid.uuid4().hex
    the_call = Call(
        channel=Channel.api,
        source_system=PROBE_SOURCE_SYSTEM,
        external_id=external_id,
        subject="readiness probe",
        body="Hotline readiness probe: not a citizen's request.",
        language="en",
        received_at=now or utc_now(),
    )
    return CallReceived(call_id=call_id_for(PROBE_SOURCE_SYSTEM, external_id), call=the_call)


class Classification(BaseModel):
    """What the request is about, in the official 3-level taxonomy."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(description="Level-1 category of the taxonomy, e.g. 劳动和社会保障.")
    subcategory: str | None = Field(None, description="Level-2 category, e.g. 劳动保障.")
    item: str | None = Field(None, description="Level-3 category, e.g. 拖欠工资.")
    issue: str | None = Field(None, description="Monthly-Question (每月一题) problem id, when one matches.")
    confidence: float = Field(ge=0, le=1, description="Probability of the level-1 category.")
    subcategory_confidence: float | None = Field(
        None, ge=0, le=1, description="Probability that level 1 and level 2 are both right."
    )
    item_confidence: float | None = Field(None, ge=0, le=1, description="Probability that levels 1, 2 and 3 are right.")
    model_version: str = Field(description="Version of the model that decided.")
    explanation: list[str] = Field(default_factory=list, description="Terms that drove the decision.")
    suggested_category: str | None = Field(
        None,
        description="A level-1 category the model never learned whose words the text has: a hint for the reviewer, "
        "never the decision.",
    )
    suggested_terms: list[str] = Field(default_factory=list, description="The words behind suggested_category.")
    needs_review: bool = Field(
        False, description="Below the confidence threshold, or a suggested category: manual sorting (人工分拣)."
    )


class CallClassified(Envelope):
    """A request was classified. Topic ``hotline.calls.classified.v1``."""

    topic: ClassVar[str] = topics.CALLS_CLASSIFIED
    event_type: Literal["call.classified"] = Field("call.classified", description="Event type.")
    call: Call = Field(description="The request, carried so consumers need no lookup.")
    classification: Classification = Field(description="The classifier's decision.")

    @classmethod
    def from_received(cls, received: CallReceived, classification: Classification) -> CallClassified:
        return cls(
            event_id=derived_event_id(received.event_id, "classified"),
            call_id=received.call_id,
            call=received.call,
            classification=classification,
        )


class Assignment(BaseModel):
    """Which queue (and unit) a case was dispatched to (派单)."""

    model_config = ConfigDict(extra="forbid")

    queue_id: str = Field(
        description="Stable queue id, e.g. street:大兴区/西红门镇 or department:市人力资源社会保障局."
    )
    unit_kind: UnitKind = Field(description="street (街乡镇), department (委办局), district or manual.")
    unit_name: str = Field(description="Display name of the lead unit.")
    district: str | None = Field(None, description="District of the case, when resolved.")
    street: str | None = Field(None, description="Street/town of the case, when resolved.")
    cooperating_units: list[str] = Field(default_factory=list, description="Queue ids of cooperating units.")
    rule_id: str | None = Field(None, description="Dispatch-catalogue (派单目录) rule that matched.")
    catalogue_version: str = Field(description="Version of the dispatch catalogue used.")
    reason: str = Field(description="Why this queue, in words an operator can check.")
    priority: int = Field(3, ge=1, le=5, description="1 = most urgent.")
    response_due_at: Instant | None = Field(None, description="Citizen must be contacted by (响应).")
    resolution_due_at: Instant | None = Field(None, description="Case must be resolved by (办结).")
    attempt: int = Field(1, ge=1, description="Dispatch attempt: 2 and more after returns (退单).")
    duplicate_of: uuid.UUID | None = Field(
        None, description="Set when the call duplicates this open case: linked to it, not dispatched twice."
    )


def masked_call(call: Call) -> Call:
    """``call`` with phone numbers and e-mail addresses in its subject, body and address masked."""
    address = call.location.address
    return call.model_copy(
        update={
            "subject": mask_contacts(call.subject),
            "body": mask_contacts(call.body),
            "location": call.location.model_copy(update={"address": mask_optional(address)}),
        }
    )


class CallRouted(Envelope):
    """A request was dispatched to a queue. Topic ``hotline.calls.routed.v1``."""

    topic: ClassVar[str] = topics.CALLS_ROUTED
    event_type: Literal["call.routed"] = Field("call.routed", description="Event type.")
    call: Call = Field(description="The request.")
    classification: Classification = Field(description="The classifier's decision.")
    assignment: Assignment = Field(description="The dispatch decision.")

    @classmethod
    def from_classified(cls, classified: CallClassified, assignment: Assignment) -> CallRouted:
        """The routed call; phone numbers and e-mail addresses in its free text masked (``shared.masking``):
        this topic and everything built from it (the case store, the read API) are read downstream."""
        return cls(
            event_id=derived_event_id(classified.event_id, "routed"),
            call_id=classified.call_id,
            call=masked_call(classified.call),
            classification=classified.classification,
            assignment=assignment,
        )


class CaseEventKind(StrEnum):
    """Steps of a case's life after it was received. ``shared.lifecycle`` says which are legal when."""

    accepted = "accepted"  # 签收: the unit takes the case
    responded = "responded"  # 响应: the unit contacted the citizen
    returned = "returned"  # 退单: the unit says the case is not theirs; the router re-dispatches it
    whistle = "whistle"  # 吹哨: a street summons departments, which join as cooperating units (报到)
    resolved = "resolved"  # 办结: the unit reports the problem handled
    callback = "callback"  # 回访: the hotline called the citizen back and recorded the result
    reopened = "reopened"  # the citizen was not satisfied / the problem came back
    closed = "closed"  # 结案
    reclassified = "reclassified"  # an operator corrected the category; the router re-routes the case
    dispatched = "dispatched"  # (re-)dispatch decided by the router or a supervisor, after a return or reclassification
    linked = "linked"  # a new call was recognised as a duplicate of an open case and linked to it
    unlinked = "unlinked"  # an operator undid a duplicate link; the router dispatches the call on its own
    assigned = "assigned"  # 承办人: the lead unit names the operator of its own who handles the case (no status change)
    unassigned = "unassigned"  # 取消指派: the lead unit takes the case back from its handler (no status change)


class CallbackResult(StrEnum):
    """The citizen's answer at the callback (回访)."""

    satisfied = "satisfied"  # 满意
    basically_satisfied = "basically_satisfied"  # 基本满意 (counts 0.9 by default in 满意率)
    dissatisfied = "dissatisfied"  # 不满意
    unreachable = "unreachable"  # 联系不上


class CaseEvent(Envelope):
    """A step in a case's life. Topic ``hotline.cases.events.v1``, keyed by ``call_id``.

    Units and operators submit them through intake (``POST /v1/cases/{call_id}/events``), which checks
    the transition against the case's state; the router emits ``dispatched`` and ``linked``.
    """

    topic: ClassVar[str] = topics.CASES_EVENTS
    event_type: Literal["case.event"] = Field("case.event", description="Event type.")
    kind: CaseEventKind = Field(description="Which step.")
    actor: str = Field(description="Who acted: an API key name, or the service (router) that decided.")
    actor_queue: str | None = Field(None, description="Queue id of the unit that acted, when a unit acted.")
    note: str | None = Field(None, max_length=4000, description="Free text, e.g. a return reason (退单理由).")
    departments: list[str] = Field(
        default_factory=list, description="whistle: queue ids of the departments summoned (吹哨报到)."
    )
    callback_result: CallbackResult | None = Field(None, description="callback: the citizen's answer (回访).")
    classification: Classification | None = Field(None, description="reclassified: the corrected classification.")
    assignment: Assignment | None = Field(None, description="dispatched: the new dispatch decision.")
    linked_to: uuid.UUID | None = Field(None, description="linked: the open case this call duplicates.")
    assignee: str | None = Field(
        None,
        max_length=ASSIGNEE_MAX_CHARS,
        description="assigned: the operator of the lead unit who handles the case (承办人), by console user name.",
    )
    details: dict[str, str | int | float | bool | list[str] | None] = Field(
        default_factory=dict, description="Further step-specific fields, for extensions."
    )


class DeadlineKind(StrEnum):
    """Which deadline of a case passed."""

    response = "response"  # 响应: the citizen was not contacted in time
    resolution = "resolution"  # 办结: the case was not resolved in time


class CaseOverdue(Envelope):
    """A case missed a deadline; emitted once per case and deadline. Topic ``hotline.cases.overdue.v1``."""

    topic: ClassVar[str] = topics.CASES_OVERDUE
    event_type: Literal["case.overdue"] = Field("case.overdue", description="Event type.")
    deadline: DeadlineKind = Field(description="Which deadline passed.")
    due_at: Instant = Field(description="When it was due (UTC).")
    queue_id: str = Field(description="Queue of the unit that holds the case and is counted against.")
    unit_name: str = Field(description="Display name of that unit.")


class HotSpotAlert(Envelope):
    """An area x problem rose well above its own baseline (主动治理). Topic ``hotline.alerts.v1``.

    Keyed by ``call_id``: the call that tipped the area over its threshold. Emitted once per area,
    problem, window and day, with a deterministic ``event_id``.
    """

    topic: ClassVar[str] = topics.ALERTS
    event_type: Literal["alert.hotspot"] = Field("alert.hotspot", description="Event type.")
    area: str = Field(description="The area: district/street, e.g. 大兴区/西红门镇.")
    problem: str = Field(description="每月一题 problem id, else the level-1 category.")
    window: Literal["day", "week"] = Field(description="day: the last day; week: the last 7 days.")
    day: str = Field(description="Last day of the window, YYYY-MM-DD in the city's time zone.")
    count: int = Field(ge=0, description="Requests in the window.")
    baseline: float = Field(ge=0, description="Mean requests per window over the baseline period.")
    ratio: float = Field(ge=0, description="count / baseline (count / 1 when the baseline is 0).")
    thresholds: dict[str, float] = Field(default_factory=dict, description="The thresholds that applied.")


class DeadLetter(BaseModel):
    """A message a consumer could not process, kept with the reason. Topic ``hotline.deadletter.v1``."""

    model_config = ConfigDict(extra="forbid")

    topic: ClassVar[str] = topics.DEADLETTER

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique id of this dead letter.")
    occurred_at: Instant = Field(default_factory=utc_now, description="When it was dead-lettered (UTC).")
    schema_version: int = Field(1, description="Version of this schema.")
    service: str = Field(description="Consumer that gave up on the message.")
    source_topic: str = Field(description="Topic the message came from.")
    partition: int | None = Field(None, description="Its partition.")
    offset: int | None = Field(None, description="Its offset.")
    key: str | None = Field(None, description="Its key, decoded as UTF-8 with replacement.")
    reason: str = Field(description="Why it could not be processed.")
    original_b64: str = Field(
        description="The original message bytes, base64-encoded (the first 256 KiB of a larger message)."
    )
    original_size: int | None = Field(
        None, ge=0, description="Set when original_b64 holds only the start of the message: its whole size in bytes."
    )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class ProgrammeItemKind(StrEnum):
    """The kinds of item a 每月一题 problem's plan lists."""

    task = "task"  # 任务清单: a task of the problem's plan
    policy = "policy"  # 政策清单: a policy document to issue


# The statuses of each kind of item, in the order they are reached.
PROGRAMME_ITEM_STATUSES: dict[ProgrammeItemKind, tuple[str, ...]] = {
    ProgrammeItemKind.task: ("planned", "in_progress", "done"),
    ProgrammeItemKind.policy: ("planned", "drafting", "issued"),
}


class ProgrammeItemUpdated(EventBase):
    """A 每月一题 task or policy has a new status. Topic ``hotline.programme.events.v1``, keyed by ``problem_id``.

    Supervisors submit them through intake (``POST /v1/programme/{problem_id}/{tasks|policies}/{item_id}``);
    the metrics service applies each once, bumping the item's version and appending to its history.
    """

    topic: ClassVar[str] = topics.PROGRAMME_EVENTS
    key_description: ClassVar[str | None] = "The message key is the event's problem_id, encoded as UTF-8."
    event_type: Literal["programme.item_updated"] = Field("programme.item_updated", description="Event type.")
    problem_id: str = Field(
        min_length=1, max_length=100, description="每月一题 problem id, e.g. wage-arrears; the message key."
    )
    item_kind: ProgrammeItemKind = Field(description="task or policy.")
    item_id: str = Field(min_length=1, max_length=100, description="The item's id within its problem, e.g. t1.")
    status: Literal["planned", "in_progress", "done", "drafting", "issued"] = Field(
        description="The new status. Tasks: planned, in_progress, done; policies: planned, drafting, issued."
    )
    note: str | None = Field(None, max_length=2000, description="Free text, e.g. what was done.")
    actor: str = Field(min_length=1, description="Who reported it: the intake API key's name.")

    @model_validator(mode="after")
    def _status_fits_the_kind(self) -> ProgrammeItemUpdated:
        allowed = PROGRAMME_ITEM_STATUSES[self.item_kind]
        if self.status not in allowed:
            raise ValueError(f"a {self.item_kind} status is one of {', '.join(allowed)}, not {self.status!r}")
        return self

    def key(self) -> bytes:
        return self.problem_id.encode()


TOPIC_MODELS: dict[str, type[BaseModel]] = {
    topics.CALLS_RECEIVED: CallReceived,
    topics.CALLS_CLASSIFIED: CallClassified,
    topics.CALLS_ROUTED: CallRouted,
    topics.CASES_EVENTS: CaseEvent,
    topics.CASES_OVERDUE: CaseOverdue,
    topics.ALERTS: HotSpotAlert,
    topics.DEADLETTER: DeadLetter,
    topics.PROGRAMME_EVENTS: ProgrammeItemUpdated,
}
