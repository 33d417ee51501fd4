"""The case document (``cases`` collection) as a typed model, and the read model intake and the router use.

**Why this read model exists (a documented coupling).** The metrics service owns the ``cases`` collection:
it is the only writer (``services/metrics``: one document per call, created from ``CallRouted`` and changed
by every applied ``CaseEvent``). Two other services read it, and only through ``CaseReadModel``:

- intake checks a submitted case step against the stored case (who holds it, its status) before it
  publishes the ``CaseEvent`` (403/409 answered at once rather than a rejection later);
- the router needs the stored case to re-dispatch it after a return, a reclassification or an undone
  link (its call, classification, current assignment and the queues already tried), waiting a little for
  metrics to have stored a case that was routed moments ago (so a step travels router → metrics →
  router); and it looks for open cases a new call may duplicate;
- ``hotline catalogue suggest`` (the router's tool) reads the returned and hand-dispatched cases to learn
  what the catalogue should change.

Keeping the case in one store avoids a second copy per reader; the price is this coupling, kept small:
the collection name and the document's shape are defined here, once, and readers see typed values.

**Tolerant on purpose.** Only ``_id`` and ``status`` are required. Every other field has a default, since
older documents, partial projections (the duplicate check reads a few fields) and hand-made test cases may
lack it, and fields the model does not know are ignored, so the writer can add one before its readers.
``tests`` check that every field the metrics writer stores is a field of this model.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase

from shared.clock import as_utc, parse_utc

CASES_COLLECTION = "cases"
"""The collection of case documents (owned and written by the metrics service)."""

LEARNING_PROJECTION = {
    "_id": 1, "status": 1, "received_at": 1, "call": 1, "classification": 1, "assignment": 1, "queue_id": 1,
    "returned_count": 1, "history": 1,
}  # fmt: skip
"""What ``CaseReadModel.returned_or_dispatched`` reads of a case."""


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
"""A stored time, aware UTC (PyMongo returns naive UTC datetimes unless the client is tz_aware)."""


class _Stored(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class StoredLocation(_Stored):
    """Where the problem is, as the call gave it (``shared.events.Location``)."""

    address: str | None = None
    district: str | None = None
    street: str | None = None
    lat: float | None = None
    lon: float | None = None


class StoredContact(_Stored):
    """The citizen's contact: the salted hash and the masked form, never the plain contact."""

    hash: str = ""
    masked: str = ""


class StoredRequestedService(_Stored):
    """The service the citizen chose when filing (``shared.events.RequestedService``), e.g. through Open311."""

    code: str = ""
    category: str = ""
    subcategory: str | None = None
    item: str | None = None
    issue: str | None = None


class StoredCall(_Stored):
    """The request (``shared.events.Call``) as stored with its case."""

    channel: str | None = None
    source_system: str | None = None
    external_id: str | None = None
    subject: str | None = None
    body: str | None = None
    language: str | None = None
    location: StoredLocation = Field(default_factory=StoredLocation)
    contact: StoredContact | None = None
    requested: StoredRequestedService | None = None
    media_url: str | None = None

    def content_hash(self) -> str:
        """sha256 (hex) of what the request says: channel, subject, body, language, location, the contact's
        hash, the requested service and the media link. Not its identity (source_system, external_id) and not
        its received time: intake answers 409 with this hash when the same identity comes with other content."""
        content = self.model_dump(mode="json", exclude={"source_system", "external_id"})
        text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class StoredClassification(_Stored):
    """The case's classification: the classifier's, or an operator's after a reclassification."""

    category: str | None = None
    subcategory: str | None = None
    item: str | None = None
    issue: str | None = None
    confidence: float | None = None
    model_version: str | None = None
    needs_review: bool = False
    explanation: list[str] = Field(default_factory=list)


class StoredAssignment(_Stored):
    """The current dispatch decision (``shared.events.Assignment``): the lead queue and its deadlines."""

    queue_id: str | None = None
    unit_kind: str | None = None
    unit_name: str | None = None
    district: str | None = None
    street: str | None = None
    cooperating_units: list[str] = Field(default_factory=list)
    rule_id: str | None = None
    catalogue_version: str | None = None
    reason: str | None = None
    priority: int | None = None
    response_due_at: UtcDatetime | None = None
    resolution_due_at: UtcDatetime | None = None
    attempt: int | None = None
    duplicate_of: str | None = None


class OverdueFlag(_Stored):
    """A deadline that passed: when it was flagged, when it was due, and the queue that held the case."""

    at: UtcDatetime | None = None
    due_at: UtcDatetime | None = None
    queue_id: str | None = None


class StepAssignment(_Stored):
    """The dispatch a ``dispatched`` step made."""

    queue_id: str | None = None
    attempt: int | None = None


class CaseStep(_Stored):
    """One entry of a case's ``history``: a step applied or rejected, with the status before and after."""

    event_id: str
    kind: str
    at: UtcDatetime | None = None
    actor: str | None = None
    actor_queue: str | None = None
    note: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    queue_id: str | None = None  # the lead queue when the step was taken
    outcome: str | None = None  # applied or rejected
    reason: str | None = None  # why it was rejected
    departments: list[str] = Field(default_factory=list)
    callback_result: str | None = None
    assignment: StepAssignment | None = None
    linked_to: str | None = None
    assignee: str | None = None  # assigned: the operator named (承办人)
    previous_assignee: str | None = None  # assigned: the one before (a reassignment)


class CaseDocument(_Stored):
    """A case as the metrics service stores it: one per call, its current state and its history.

    ``status`` is a ``shared.lifecycle.CaseStatus`` value, kept as text so a reader can say that a status
    it does not know is unknown. Top-level ``queue_id``/``queue_ids``/``district`` copy the assignment's
    for the indexes.
    """

    id: str = Field(alias="_id", description="The call id.")
    status: str
    event_id: str | None = None  # the CallRouted event the case was created from
    call: StoredCall = Field(default_factory=StoredCall)
    classification: StoredClassification = Field(default_factory=StoredClassification)
    assignment: StoredAssignment = Field(default_factory=StoredAssignment)
    queue_id: str | None = None  # the lead unit's queue
    queue_ids: list[str] = Field(default_factory=list)  # the lead queue, then the cooperating units'
    district: str | None = None
    received_at: UtcDatetime | None = None
    routed_at: UtcDatetime | None = None
    month: str | None = None  # YYYY-MM of received_at in the city's time zone
    day: str | None = None  # YYYY-MM-DD likewise
    linked_to: str | None = None  # the open case a duplicate is linked to
    overdue: dict[str, OverdueFlag] = Field(default_factory=dict)  # response / resolution
    history: list[CaseStep] = Field(default_factory=list)
    next_due_at: UtcDatetime | None = None
    dispatched_at: UtcDatetime | None = None
    accepted_at: UtcDatetime | None = None
    responded_at: UtcDatetime | None = None
    resolved_at: UtcDatetime | None = None
    called_back_at: UtcDatetime | None = None
    closed_at: UtcDatetime | None = None
    callback_result: str | None = None
    returned_count: int = 0
    reopened_count: int = 0
    summoned: list[str] = Field(default_factory=list)  # departments summoned by whistles (吹哨)
    assignee: str | None = None  # 承办人: the lead unit's operator handling the case (cleared when it leaves the unit)
    assigned_at: UtcDatetime | None = None

    @classmethod
    def of(cls, case: CaseDocument | Mapping[str, Any]) -> CaseDocument:
        """``case`` itself, or the stored document (a mapping) read as a ``CaseDocument``."""
        return case if isinstance(case, CaseDocument) else cls.model_validate(case)

    @property
    def lead_queue(self) -> str | None:
        """The queue that holds the case (its lead unit)."""
        return self.queue_id or self.assignment.queue_id


IDS_PER_QUERY = 25
"""Ids per ``{_id: {$in: [...]}}`` query. The embedded database's cost grows faster than the list (500 ids
in one query: ~0.2 s); its CPU per id among 20,000 cases was 0.15 ms in lists of 100, 0.095 ms of 50,
0.065 ms of 25. Lookups of many cases by id go in slices of this many."""


def case_units(case: CaseDocument | Mapping[str, Any]) -> set[str]:
    """The queues of the units that lead the case or cooperate on it (the units that may read it), from the
    stored document or a read API's case (``call_id`` instead of ``_id``); unknown shapes add nothing."""
    if isinstance(case, CaseDocument):
        assignment: Mapping[str, Any] = case.assignment.model_dump()
        fields: Mapping[str, Any] = {"queue_id": case.queue_id, "queue_ids": case.queue_ids, "summoned": case.summoned}
    else:
        stored = case.get("assignment")
        assignment = stored if isinstance(stored, Mapping) else {}
        fields = case
    queues = [fields.get("queue_id"), assignment.get("queue_id")]
    for many in (fields.get("queue_ids"), assignment.get("cooperating_units"), fields.get("summoned")):
        queues += list(many) if isinstance(many, list) else []
    return {str(queue) for queue in queues if queue}


class CaseReadModel:
    """Typed, read-only access to the ``cases`` collection for the services that do not own it.

    Every query intake and the router make of the collection is a method here; nothing else of theirs
    names the collection. Errors of the database (unreachable, timed out) propagate to the caller.
    """

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = database[CASES_COLLECTION]

    async def ping(self) -> None:
        """Raise unless the database answers (intake's readiness)."""
        await self.collection.database.command("ping")

    async def get(self, call_id: str) -> CaseDocument | None:
        """The case of ``call_id``, or None when it is not stored (yet)."""
        document = await self.collection.find_one({"_id": call_id})
        return None if document is None else CaseDocument.model_validate(document)

    async def stored_calls(self, call_ids: Sequence[str]) -> dict[str, StoredCall]:
        """The stored requests of those of ``call_ids`` that have a case (intake's check of a resubmission)."""
        ids = list(call_ids)
        found: dict[str, StoredCall] = {}
        for start in range(0, len(ids), IDS_PER_QUERY):
            cursor = self.collection.find({"_id": {"$in": ids[start : start + IDS_PER_QUERY]}}, {"call": 1})
            found.update({str(doc["_id"]): StoredCall.model_validate(doc.get("call") or {}) async for doc in cursor})
        return found

    async def wait_until_stored(
        self, call_id: str, *, seconds: float, poll_seconds: float = 0.2
    ) -> CaseDocument | None:
        """The case of ``call_id``, looking again every ``poll_seconds`` for at most ``seconds``; None after.

        The router's wait for a case metrics has not stored yet: a step about a call routed moments ago
        can overtake the routed call's way into the store.
        """
        deadline = time.monotonic() + seconds
        while True:
            case = await self.get(call_id)
            if case is not None or time.monotonic() >= deadline:
                return case
            await asyncio.sleep(poll_seconds)

    async def returned_or_dispatched(self, *, since: datetime | None = None) -> AsyncIterator[CaseDocument]:
        """Cases with a return (退单) or a dispatch step in their history (the router's re-dispatches and
        operators' 人工派单), received at or after ``since`` when given, oldest first: what
        ``hotline catalogue suggest`` learns from."""
        query: dict[str, Any] = {"$or": [{"returned_count": {"$gt": 0}}, {"history.kind": "dispatched"}]}
        if since is not None:
            query["received_at"] = {"$gte": since}
        async for document in self.collection.find(query, LEARNING_PROJECTION).sort("_id", 1):
            yield CaseDocument.model_validate(document)

    async def find_projected(
        self, filters: Sequence[Mapping[str, Any]], projection: Mapping[str, Any]
    ) -> list[CaseDocument]:
        """The cases matching any of ``filters`` (each run on its own, to use its index), once each, with only
        the ``projection``'s fields read (the others keep their defaults): the router's duplicate check."""
        found: dict[str, CaseDocument] = {}
        for query in filters:
            async for document in self.collection.find(dict(query), dict(projection)):
                case = CaseDocument.model_validate(document)
                found[case.id] = case
        return list(found.values())


def is_overdue(case: Mapping[str, Any], now: datetime) -> bool:
    """Whether a case (a stored document or its JSON) is past its resolution deadline, or, before it was
    responded to, its response deadline; or was flagged overdue. The console's red rows and its filter."""
    if case.get("overdue"):
        return True
    assignment = case.get("assignment") or {}
    for key in ("resolution_due_at", "response_due_at"):
        due = parse_utc(assignment.get(key))
        if due is not None and due < now:
            if key == "response_due_at" and case.get("status") not in (None, "dispatched", "accepted"):
                continue
            return True
    return False
