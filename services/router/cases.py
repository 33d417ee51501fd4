"""The router's part of the case lifecycle, pure: re-dispatch after a return (退单), re-route after a
reclassification or an undone link, and recognising a new call as a duplicate of an open case.

Cases are read as the metrics service stores them, through the typed read model ``shared.cases``
(``CaseDocument``: every field but the id and status may be missing). No I/O here; the agent queries
the read model and passes the cases in (a plain document is read as a ``CaseDocument`` too).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.router.returns import ReturnReading, read_return_note, unit_names_of
from services.router.routing import (
    candidate_assignments,
    kept_urgency,
    locate_call,
    manual_dispatch,
    route,
    unit_assignment,
)
from services.router.urgency import UrgencyScorer
from shared.cases import CaseDocument
from shared.catalogue import Catalogue
from shared.clock import DEFAULT_TIMEZONE
from shared.events import (
    Assignment,
    Call,
    CallClassified,
    CallRouted,
    CaseEvent,
    CaseEventKind,
    Channel,
    Classification,
    Contact,
    Location,
    UnitKind,
    derived_event_id,
)
from shared.gazetteer import Gazetteer, Resolution
from shared.lifecycle import OPEN_STATUSES
from shared.queues import DEPARTMENT_PREFIX, MANUAL_CLASSIFICATION_QUEUE, MANUAL_DISPATCH_QUEUE, QueueId

ROUTER_ACTOR = "router"
DEFAULT_MAX_RETURNS = 2
DEFAULT_DUPLICATE_WINDOW = timedelta(hours=72)
# The router acts on these steps; on the others (whistle included: metrics adds the cooperating units) it does nothing.
REROUTING_KINDS = frozenset({CaseEventKind.returned, CaseEventKind.reclassified, CaseEventKind.unlinked})
# A stored case: as read through shared.cases.CaseReadModel, or the document itself (tests, tools).
CaseLike = CaseDocument | Mapping[str, Any]


def call_of_case(case: CaseLike, now: datetime) -> Call:
    """The call of a stored case (text, channel, location, contact), enough to route it again."""
    case = CaseDocument.of(case)
    stored = case.call
    try:
        channel = Channel(stored.channel or "api")
    except ValueError:
        channel = Channel.api
    return Call.model_construct(
        channel=channel,
        source_system=str(stored.source_system or ""),
        external_id=str(stored.external_id or ""),
        subject=str(stored.subject or ""),
        body=str(stored.body or ""),
        language=str(stored.language or "zh"),
        location=Location.model_construct(
            address=stored.location.address, district=stored.location.district, street=stored.location.street
        ),
        contact=Contact.model_construct(hash=stored.contact.hash, masked=stored.contact.masked)
        if stored.contact is not None
        else None,
        received_at=case.received_at or now,
    )


def classification_of_case(case: CaseLike) -> Classification:
    """The classification stored with a case (a reclassification's, once metrics applied it)."""
    stored = CaseDocument.of(case).classification
    return Classification.model_construct(
        category=str(stored.category or ""),
        subcategory=stored.subcategory,
        item=stored.item,
        issue=stored.issue,
        confidence=float(stored.confidence or 1.0),
        model_version=str(stored.model_version or "stored"),
        explanation=list(stored.explanation),
        needs_review=False,  # a human decided or confirmed it: route it, do not send it back to sorting
    )


def tried_queues(case: CaseLike) -> set[str]:
    """Queues the case has been dispatched to: the current one and any in its history."""
    case = CaseDocument.of(case)
    queues = {q for q in (case.assignment.queue_id, case.queue_id) if q is not None}
    for entry in case.history:
        for queue in (entry.assignment.queue_id if entry.assignment else None, entry.queue_id):
            if queue is not None:
                queues.add(queue)
    return queues


def redispatch_after_return(
    case: CaseLike,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    now: datetime,
    *,
    max_returns: int = DEFAULT_MAX_RETURNS,
    note: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> Assignment:
    """Where a returned case goes next: the next candidate after the current one, or manual dispatch.

    Candidates are every matching catalogue rule in order, then the district sub-centre, then manual
    dispatch; queues already tried are skipped. Attempt ``n`` returned means ``n`` returns so far: after
    ``max_returns`` automatic re-dispatches the next return goes to manual dispatch (人工派单). A case that was
    urgent is urgent with whichever unit gets it (``kept_urgency``): a rule's or the learned scorer's urgency alike.
    """
    case = CaseDocument.of(case)
    decided = _next_unit(case, catalogue, gazetteer, now, max_returns=max_returns, note=note, timezone=timezone)
    return kept_urgency(decided, case.assignment.priority, catalogue, now, timezone=timezone)


def _next_unit(
    case: CaseDocument,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    now: datetime,
    *,
    max_returns: int,
    note: str | None,
    timezone: str,
) -> Assignment:
    attempt = int(case.assignment.attempt or 1)
    next_attempt = attempt + 1
    why = f"returned by {case.assignment.queue_id or 'its unit'}" + (f" ({note})" if note else "")
    call = call_of_case(case, now)
    place = locate_call(call, gazetteer)
    if attempt > max_returns:
        return manual_dispatch(
            catalogue, place, f"{why}; returned {attempt} times (limit {max_returns}): 人工派单", attempt=next_attempt
        )
    classification = classification_of_case(case)
    tried = tried_queues(case)
    reading = read_return_note(note, unit_names_of(catalogue.department_queues()), gazetteer)
    listened = listen_to_return(reading, case, call, classification, place, catalogue, gazetteer, now, tried, timezone)
    if listened is not None:
        return listened.model_copy(update={"attempt": next_attempt, "reason": f"{why}; {listened.reason}"})
    candidates = candidate_assignments(call, classification, catalogue, gazetteer, now, timezone=timezone, place=place)
    chosen = next_candidate(candidates, case.assignment.rule_id, tried)
    if chosen is None or chosen.queue_id == MANUAL_DISPATCH_QUEUE:
        return manual_dispatch(catalogue, place, f"{why}; no further candidate: 人工派单", attempt=next_attempt)
    return chosen.model_copy(update={"attempt": next_attempt, "reason": f"{why}; next candidate: {chosen.reason}"})


def listen_to_return(
    reading: ReturnReading,
    case: CaseDocument,
    call: Call,
    classification: Classification,
    place: Resolution,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    now: datetime,
    tried: set[str],
    timezone: str = DEFAULT_TIMEZONE,
) -> Assignment | None:
    """The unit a return's reason points to, or None when it points nowhere new (the next candidate then).

    A department it names and that has not had the case leads (with the deadlines of the first rule that
    leads to it: a matching one first). A place it names moves the case there: the call is located again
    inside the district said, and the first untried unit of that place takes it (a street, else the district
    sub-centre). "Not our area" without a name: another street/town the citizen's words name in the same
    district, else the district sub-centre (it knows its streets), else manual dispatch. (The caller,
    ``redispatch_after_return``, keeps a returned urgent case urgent with the unit chosen.)
    """
    candidates: list[Assignment] | None = None
    for queue in reading.departments:
        if queue in tried:
            continue
        candidates = candidates or candidate_assignments(
            call, classification, catalogue, gazetteer, now, timezone=timezone, place=place
        )
        matching = next((c for c in candidates if c.queue_id == queue), None)
        said = f"the reason names {queue.removeprefix(DEPARTMENT_PREFIX)} ({', '.join(reading.said)})"
        if matching is not None:
            return matching.model_copy(update={"reason": f"{said}: {matching.reason}"})
        unit = QueueId.parse(queue)
        return unit_assignment(
            unit, catalogue, place, now, reason=f"{said}; location: {place.reason}", timezone=timezone
        )
    named = reading.place
    if (
        named is not None
        and named.district is not None
        and (named.district, named.street)
        != (
            place.district,
            place.street,
        )
    ):
        moved = named if named.street else gazetteer.resolve(call.location.address, named.district, None)
        if moved.district != named.district:
            moved = named
        moved = Resolution(moved.district, moved.street, moved.confidence, f"the return's reason: {moved.reason}")
        options = candidate_assignments(call, classification, catalogue, gazetteer, now, timezone=timezone, place=moved)
        chosen = _first_untried(options, tried, (UnitKind.street, UnitKind.district))
        if chosen is not None:
            said = f"the reason names {named.street or named.district}"
            return chosen.model_copy(update={"reason": f"{said}: {chosen.reason}"})
    if reading.not_our_area:
        said = f"the reason says not its area ({', '.join(reading.said)})"
        other = _other_street(call, place, gazetteer, tried)
        if other is not None:
            options = candidate_assignments(
                call, classification, catalogue, gazetteer, now, timezone=timezone, place=other
            )
            chosen = _first_untried(options, tried, (UnitKind.street,))
            if chosen is not None:
                return chosen.model_copy(update={"reason": f"{said}: {chosen.reason}"})
        if place.district and str(QueueId.for_district(place.district)) not in tried:
            district = QueueId.for_district(place.district)
            reason = f"{said}: district sub-centre of {place.district} decides; location: {place.reason}"
            return unit_assignment(district, catalogue, place, now, reason=reason, timezone=timezone)
        return manual_dispatch(catalogue, place, f"{said}; no other unit of the place: 人工派单")
    return None


def _first_untried(candidates: Sequence[Assignment], tried: set[str], kinds: tuple[UnitKind, ...]) -> Assignment | None:
    return next((c for c in candidates if c.unit_kind in kinds and c.queue_id not in tried), None)


def _other_street(call: Call, place: Resolution, gazetteer: Gazetteer, tried: set[str]) -> Resolution | None:
    """Another street/town of the call's district that the citizen's words name (the one dispatched to being
    wrong), when there is exactly one."""
    if place.district is None:
        return None
    texts = [t for t in (call.location.street, call.location.address, f"{call.subject}\n{call.body}") if t]
    others = {
        entry.street
        for text in texts
        for _, _, entries in gazetteer.scan(text)
        for entry in entries
        if entry.district == place.district and entry.street and entry.street != place.street
        and str(QueueId.for_street(place.district, entry.street)) not in tried
    }  # fmt: skip
    if len(others) != 1:
        return None
    [street] = others
    return Resolution(place.district, street, 0.6, f"the citizen's words also name {street} ({place.district})")


def next_candidate(candidates: Sequence[Assignment], current_rule: str | None, tried: set[str]) -> Assignment | None:
    """The first candidate after the one of ``current_rule`` (or from the start) whose queue was not tried."""
    rules = [c.rule_id for c in candidates]
    start = rules.index(current_rule) + 1 if current_rule is not None and current_rule in rules else 0
    return next((c for c in candidates[start:] if c.queue_id not in tried), None)


def reroute(
    case: CaseLike,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    now: datetime,
    *,
    classification: Classification | None = None,
    why: str,
    timezone: str = DEFAULT_TIMEZONE,
    scorer: UrgencyScorer | None = None,
) -> Assignment:
    """Route a case afresh (after a reclassification, or an undone duplicate link): attempt 1 again, with the
    learned urgency scorer's say as on the first routing (``route_parsed``)."""
    chosen = classification or classification_of_case(case)
    chosen = chosen.model_copy(update={"needs_review": False})
    call = call_of_case(case, now)
    learned = scorer.flags([call])[0] if scorer else None
    assignment = route(call, chosen, catalogue, gazetteer, now, timezone=timezone, learned_urgency=learned)
    return assignment.model_copy(update={"reason": f"{why}; {assignment.reason}"})


def dispatched_event(trigger: CaseEvent, assignment: Assignment) -> CaseEvent:
    """The router's ``dispatched`` step for ``trigger``; its id is derived, so a replay repeats it exactly."""
    return CaseEvent(
        event_id=derived_event_id(trigger.event_id, "dispatched"),
        call_id=trigger.call_id,
        kind=CaseEventKind.dispatched,
        actor=ROUTER_ACTOR,
        assignment=assignment,
        note=assignment.reason[:4000],
    )


# --- duplicates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenCase:
    """What duplicate matching needs of an open case."""

    call_id: str
    received_at: datetime
    category: str | None
    issue: str | None
    district: str | None
    street: str | None
    contact_hash: str | None
    assignment: Mapping[str, Any]
    address: str | None = None

    @classmethod
    def from_document(cls, doc: CaseLike) -> OpenCase | None:
        """The open case of a stored case (``DUPLICATE_PROJECTION`` is enough); None unless it is open."""
        case = CaseDocument.of(doc)
        if case.received_at is None or case.status not in OPEN_STATUSES:
            return None
        return cls(
            call_id=case.id,
            received_at=case.received_at,
            category=case.classification.category,
            issue=case.classification.issue,
            district=case.assignment.district or case.district,
            street=case.assignment.street,
            contact_hash=case.call.contact.hash if case.call.contact is not None else None,
            assignment=case.assignment.model_dump(),
            address=place_text(case.call.location.address),
        )


@dataclass(frozen=True)
class Duplicate:
    """A new call recognised as a duplicate of an open case, and why."""

    of: OpenCase
    reason: str


def place_text(address: str | None) -> str | None:
    """The address as compared for duplicates: the citizen's words, trimmed (None when nothing was said)."""
    text = (address or "").strip()
    return text or None


def can_duplicate(classified: CallClassified) -> bool:
    """Calls worth checking: classified with confidence (not for manual sorting)."""
    return not classified.classification.needs_review


def same_problem(classification: Classification, case: OpenCase) -> bool:
    """The same Monthly-Question problem, or (without one on either side) the same level-1 category."""
    if classification.issue and case.issue:
        return classification.issue == case.issue
    return bool(classification.category) and classification.category == case.category


def find_duplicate(
    classified: CallClassified,
    place: Resolution,
    open_cases: Iterable[OpenCase],
    *,
    window: timedelta = DEFAULT_DUPLICATE_WINDOW,
) -> Duplicate | None:
    """The open case this call duplicates: the same problem at the same place (the same street/town and
    the same address), or from the same citizen, received within ``window`` before it (the earliest such
    case wins). The street alone is not a place: a street/town covers many neighbourhoods, and two
    complaints of one category in it are usually two problems."""
    if not can_duplicate(classified):
        return None
    call, classification = classified.call, classified.classification
    received = call.received_at.astimezone(UTC)
    contact = call.contact.hash if call.contact is not None else None
    address = place_text(call.location.address)
    own_id = str(classified.call_id)
    best: Duplicate | None = None
    for case in open_cases:
        if case.call_id == own_id or not (received - window <= case.received_at <= received):
            continue
        if (case.received_at, case.call_id) >= (received, own_id):
            continue  # only earlier calls: a replay decides as the first run did
        if not same_problem(classification, case):
            continue
        same_street = bool(place.street) and case.street == place.street and case.district == place.district
        if same_street and address is not None and case.address == address:
            reason = f"same problem ({classification.issue or classification.category}) at {address}"
        elif contact and case.contact_hash == contact:
            reason = f"same problem ({classification.issue or classification.category}) from the same citizen"
        else:
            continue
        if best is None or (case.received_at, case.call_id) < (best.of.received_at, best.of.call_id):
            best = Duplicate(case, reason)
    return best


class OpenCaseIndex:
    """Open cases by address and by the citizen's contact hash: the only ways ``find_duplicate`` takes a case, so a
    call is compared with the few cases at its address or from its caller, not with every open case of the store's
    answer and of the batch so far (which made a batch's duplicate check grow with its square)."""

    def __init__(self, cases: Iterable[OpenCase] = ()) -> None:
        self._by_address: dict[str, list[OpenCase]] = defaultdict(list)
        self._by_contact: dict[str, list[OpenCase]] = defaultdict(list)
        for case in cases:
            self.add(case)

    def add(self, case: OpenCase) -> None:
        if case.address is not None:
            self._by_address[case.address].append(case)
        if case.contact_hash:
            self._by_contact[case.contact_hash].append(case)

    def candidates(self, classified: CallClassified) -> list[OpenCase]:
        """The open cases at the call's address or from its caller (a case may be listed twice)."""
        call = classified.call
        address = place_text(call.location.address)
        found = list(self._by_address.get(address, ())) if address is not None else []
        if call.contact is not None and call.contact.hash:
            found += self._by_contact.get(call.contact.hash, ())
        return found


VALUES_PER_QUERY = 50


def duplicate_queries(batch: Sequence[tuple[CallClassified, Resolution]], window: timedelta) -> list[dict[str, Any]]:
    """MongoDB filters for the open cases any call of ``batch`` may duplicate (empty: nothing to ask).

    One field and at most ``VALUES_PER_QUERY`` values per filter, each served by its index
    ({call.location.address, received_at} or {call.contact.hash, received_at}); street, problem and status
    are checked on the few documents found. Measured on the embedded database with 20,000 cases: one
    ``$or`` of two 500-value ``$in`` lists took 34.6 s (the index is not used), these 20 filters 0.13 s.
    """
    checked = [(c, p) for c, p in batch if can_duplicate(c)]
    addresses = sorted({a for c, p in checked if p.street and (a := place_text(c.call.location.address))})
    hashes = sorted({c.call.contact.hash for c, _ in checked if c.call.contact is not None})
    if not checked:
        return []
    earliest = min(c.call.received_at for c, _ in checked).astimezone(UTC) - window
    latest = max(c.call.received_at for c, _ in checked).astimezone(UTC)
    recent_and_open = {"received_at": {"$gte": earliest, "$lte": latest}, "status": {"$in": sorted(OPEN_STATUSES)}}
    return [
        {field: {"$in": values[i : i + VALUES_PER_QUERY]}, **recent_and_open}
        for field, values in (("call.location.address", addresses), ("call.contact.hash", hashes))
        for i in range(0, len(values), VALUES_PER_QUERY)
    ]


DUPLICATE_PROJECTION = {
    "_id": 1,
    "status": 1,
    "received_at": 1,
    "district": 1,
    "classification.category": 1,
    "classification.issue": 1,
    "assignment": 1,
    "call.contact.hash": 1,
    "call.location.address": 1,
}


def linked_assignment(assignment: Assignment, duplicate: Duplicate, catalogue: Catalogue) -> Assignment:
    """The routed assignment of a duplicate: the open case's queue, linked to it, with no deadlines of its own."""
    held = duplicate.of.assignment
    try:
        kind = UnitKind(held.get("unit_kind") or UnitKind.manual)
    except ValueError:
        kind = UnitKind.manual
    return assignment.model_copy(
        update={
            "queue_id": str(held.get("queue_id") or MANUAL_DISPATCH_QUEUE),
            "unit_kind": kind,
            "unit_name": str(held.get("unit_name") or held.get("queue_id") or "人工派单 (manual dispatch)"),
            "cooperating_units": [str(u) for u in held.get("cooperating_units") or []],
            "rule_id": held.get("rule_id"),
            "catalogue_version": catalogue.version,
            "reason": f"duplicate of open case {duplicate.of.call_id}: {duplicate.reason}; linked, not dispatched twice",
            "response_due_at": None,
            "resolution_due_at": None,
            "duplicate_of": uuid.UUID(duplicate.of.call_id),
        }
    )


def linked_event(routed: CallRouted) -> CaseEvent | None:
    """The router's ``linked`` step for a routed duplicate (id derived from the routed event), else None."""
    assignment = routed.assignment
    if assignment.duplicate_of is None:
        return None
    return CaseEvent(
        event_id=derived_event_id(routed.event_id, "linked"),
        call_id=routed.call_id,
        kind=CaseEventKind.linked,
        actor=ROUTER_ACTOR,
        actor_queue=assignment.queue_id,
        linked_to=assignment.duplicate_of,
        note=assignment.reason[:4000],
    )


def as_open_case(classified: CallClassified, place: Resolution, assignment: Assignment) -> OpenCase | None:
    """A call routed earlier in the same batch, as an open case later calls of the batch may duplicate."""
    if assignment.queue_id == MANUAL_CLASSIFICATION_QUEUE or assignment.duplicate_of is not None:
        return None
    return OpenCase(
        call_id=str(classified.call_id),
        received_at=classified.call.received_at.astimezone(UTC),
        category=classified.classification.category,
        issue=classified.classification.issue,
        district=place.district,
        street=place.street,
        contact_hash=classified.call.contact.hash if classified.call.contact is not None else None,
        assignment=assignment.model_dump(mode="json"),
        address=place_text(classified.call.location.address),
    )
