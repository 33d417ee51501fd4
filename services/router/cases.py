"""The router's part of the case lifecycle, pure: re-dispatch after a return (退单) and re-route after a
reclassification or an undone link (recognising a new call as a duplicate of an open case: ``duplicates.py``).

Cases are read as the metrics service stores them, through the typed read model ``shared.cases``
(``CaseDocument``: every field but the id and status may be missing). No I/O here; the agent queries
the read model and passes the cases in (a plain document is read as a ``CaseDocument`` too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.router.lead import LeadScorer
from services.router.returns import ReturnReading, read_return_note, unit_names_of
from services.router.routing import (
    candidate_assignments,
    kept_urgency,
    locate_call,
    manual_dispatch,
    route,
    unit_assignment,
)
from services.router.urgency import NO_JUDGEMENT, UrgencyScorer
from shared.cases import CaseDocument
from shared.catalogue import Catalogue
from shared.clock import DEFAULT_TIMEZONE
from shared.events import (
    Assignment,
    Call,
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
from shared.queues import DEPARTMENT_PREFIX, MANUAL_DISPATCH_QUEUE, QueueId

ROUTER_ACTOR = "router"
DEFAULT_MAX_RETURNS = 2
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
    lead: LeadScorer | None = None,
) -> Assignment:
    """Route a case afresh (after a reclassification, or an undone duplicate link): attempt 1 again, with the
    learned urgency and lead scorers' say as on the first routing (``route_parsed``)."""
    chosen = classification or classification_of_case(case)
    chosen = chosen.model_copy(update={"needs_review": False})
    call = call_of_case(case, now)
    judgement = scorer.judge([call])[0] if scorer else NO_JUDGEMENT
    vote = lead.votes([call])[0] if lead else None
    assignment = route(
        call,
        chosen,
        catalogue,
        gazetteer,
        now,
        timezone=timezone,
        learned_urgency=judgement.flag,
        learned_calm=judgement.calm,
        learned_lead=vote,
    )
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
