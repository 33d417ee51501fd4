"""Routing a classified call to a queue (派单): pure, no I/O; the catalogue and gazetteer are passed in.

Size: ~510 lines — one decision read top to bottom: the rules in order, the unsure call, the learned scorers' say
(urgent, calm, another lead) and the assignments they build; split, the order they apply in would be spread out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from shared.catalogue import DISTRICT_FALLBACK_RULE, Catalogue, Match, Rule, tells_of_the_past
from shared.clock import DEFAULT_TIMEZONE
from shared.deadlines import resolution_due
from shared.events import Assignment, Call, CallClassified, Channel, Classification, UnitKind
from shared.gazetteer import Gazetteer, Resolution
from shared.queues import (
    DEPARTMENT_PREFIX,
    MANUAL_CLASSIFICATION,
    MANUAL_CLASSIFICATION_QUEUE,
    MANUAL_DISPATCH,
    MANUAL_DISPATCH_QUEUE,
    URGENT_PRIORITY,
    QueueId,
    is_urgent,
    qualified_street,
)

if TYPE_CHECKING:
    from services.router.lead import LeadVote

TEXT_LOCATION_PENALTY = 0.1
URGENT_RESPONSE_HOURS = 0.5
URGENT_RESOLUTION_DAYS = 1.0
"""Deadlines of an urgent case that no life-or-safety rule dispatched (the learned scorer's urgency, a returned
urgent case's next unit) when the catalogue has no life-or-safety rule to take them from: the shipped rules'
half hour and one calendar day."""


def locate_call(call: Call, gazetteer: Gazetteer) -> Resolution:
    """Where the call is: its location fields first, then official names said in the request text."""
    location = call.location
    resolved = gazetteer.resolve(location.address, location.district, location.street)
    if resolved.street is not None:
        return resolved
    # Citizens often say the place only in what they tell: look for official names (strict: no bare words).
    from_text = gazetteer.resolve(f"{call.subject}\n{call.body}", resolved.district, None, strict=True)
    if from_text.street is not None or (resolved.district is None and from_text.district is not None):
        return Resolution(
            from_text.district,
            from_text.street,
            round(max(from_text.confidence - TEXT_LOCATION_PENALTY, 0.0), 2),
            f"location fields: {resolved.reason}; request text: {from_text.reason}",
        )
    return resolved


def received_local(call: Call, timezone: str) -> datetime:
    """When the call was received, in the city's time zone: the time of day the citizen lived it."""
    return call.received_at.astimezone(ZoneInfo(timezone))


def call_text(call: Call) -> str:
    """What the rules' keywords are looked for in: subject and body, lower-cased (English cues match any case)."""
    return f"{call.subject}\n{call.body}".lower()


def rule_before_review(
    catalogue: Catalogue,
    classification: Classification,
    channel: Channel,
    place: Resolution,
    text: str,
    received: datetime,
    *,
    urgent: bool = False,
    calm: bool = False,
) -> Rule | None:
    """The first rule that can decide a call whose classification waits for review: one that reads the citizen's
    words (keywords) and needs no category. Life-or-safety rules always may (urgency does not wait for a confident
    category); the others only when the catalogue's ``review.dispatch_by_words`` allows it. A words rule leading to
    人工派单 (a neighbourhood matter said with no place: an operator must ask where) decides too: the words told what
    the call is, so it waits for a place, not for sorting.
    ``urgent``: the learned scorer judged the call urgent (the ``requires_urgency`` rules may then decide); ``calm``:
    it is sure nothing is happening now, so the life-or-safety rules are set aside."""
    present = catalogue.words_in(text)
    for rule in catalogue.rules_for(present, classification.category):
        words = rule.match.keywords or rule.match.and_keywords
        if rule.match.uses_classification or not words or (calm and rule.is_urgent):
            continue
        if not (rule.is_urgent or catalogue.review.dispatch_by_words):
            continue
        if rule_matches(rule.match, classification, channel, place, text, received, urgent=urgent, present=present):
            return rule
    return None


def rule_matches(
    match: Match,
    classification: Classification,
    channel: Channel,
    place: Resolution,
    text: str,
    received: datetime,
    *,
    urgent: bool = False,
    present: frozenset[str] | None = None,
) -> bool:
    """Whether every condition of ``match`` holds for the call (``text``: ``call_text``; ``received``: local
    received time; ``urgent``: the learned scorer judged it urgent, see ``learned_urgency_holds``; ``present``: the
    catalogue's words in ``text``, ``Catalogue.words_in``, found once for all rules)."""
    if match.requires_urgency and not urgent:
        return False
    if match.requires_street and place.street is None:
        return False
    if match.requires_district and place.district is None:
        return False
    if match.districts and place.district not in match.districts:
        return False
    if match.streets and (
        place.street is None or qualified_street(str(place.district), place.street) not in match.streets
    ):
        return False
    if match.is_timed and not match.holds_at(received):
        return False
    if match.categories and classification.category not in match.categories:
        return False
    if match.subcategories and classification.subcategory not in match.subcategories:
        return False
    if match.items and classification.item not in match.items:
        return False
    if match.issues and classification.issue not in match.issues:
        return False
    if match.channels and channel not in match.channels:
        return False
    return match.words_match(text, present)


def route_call(
    classified: CallClassified,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    now: datetime,
    *,
    timezone: str = DEFAULT_TIMEZONE,
) -> Assignment:
    """The queue, lead and cooperating units, priority and due times of a classified call."""
    return route(classified.call, classified.classification, catalogue, gazetteer, now, timezone=timezone)


def route(
    call: Call,
    classification: Classification,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    now: datetime,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    place: Resolution | None = None,
    learned_urgency: float | None = None,
    learned_calm: bool = False,
    learned_lead: LeadVote | None = None,
) -> Assignment:
    """The dispatch decision for a call and its classification (the first matching rule wins).

    ``learned_urgency``: the learned scorer's probability when it marks the call urgent (``UrgencyScorer.flags``):
    a call no life-or-safety rule took is then urgent all the same — with the unit that acts now when a
    ``requires_urgency`` rule names one by the call's words, else in the queue it was routed to. A call that tells
    only of a past or denied danger (``tells_of_the_past``) is not made urgent by the scorer.

    ``learned_calm``: the scorer is sure nothing is happening now (``UrgencyJudgement.calm``): the life-or-safety
    rules are set aside and the first other rule routes the call at its priority (docs/routing.md, "Urgency").

    ``learned_lead``: the learned lead scorer's probabilities for the call (``LeadScorer.votes``); when it is sure
    of another unit than the rule's, that unit leads (``with_learned_lead``)."""
    urgent = learned_urgency_holds(call, learned_urgency)
    place = place or locate_call(call, gazetteer)
    assignment = _route(
        call, classification, catalogue, now, timezone=timezone, place=place, urgent=urgent, calm=learned_calm
    )
    if learned_urgency is not None and urgent and not is_urgent(assignment.priority):
        assignment = made_urgent(
            assignment,
            catalogue,
            now,
            timezone=timezone,
            note=f"urgent by the learned urgency scorer (p={learned_urgency:.2f})",
        )
    if learned_lead is not None and not chosen_by_the_citizen(call, classification):
        assignment = with_learned_lead(assignment, learned_lead, catalogue, place, now, timezone=timezone)
    return assignment


def chosen_by_the_citizen(call: Call, classification: Classification) -> bool:
    """Whether the call's category is the service the citizen chose (an Open311 ``service_code``, kept by the
    classifier): the learned lead scorer reads only the text, so it does not overrule the rule that reads that
    choice."""
    requested = call.requested
    return requested is not None and requested.category == classification.category


def with_learned_lead(
    assignment: Assignment,
    vote: LeadVote,
    catalogue: Catalogue,
    place: Resolution,
    now: datetime,
    *,
    timezone: str = DEFAULT_TIMEZONE,
) -> Assignment:
    """``assignment`` led by the unit the learned lead scorer is sure of (``LeadVote.choice``), when that unit
    exists for the call: its street/town when resolved, or a department of the catalogue. The new unit's
    deadlines are those of the first rule leading to it (``unit_assignment``); the call keeps its urgency; the
    rule's unit and its cooperating units cooperate. No rule made the dispatch (``rule_id`` None), so a return
    goes on to the rules' candidates from the first."""
    choice = vote.choice(assignment.queue_id)
    if choice is None:
        return assignment
    if choice.unit == UnitKind.street.value:
        if not (place.district and place.street):
            return assignment
        queue = QueueId.for_street(place.district, place.street)
    else:
        parsed = QueueId.try_parse(choice.unit)
        if parsed is None or parsed.kind is not UnitKind.department or choice.unit not in catalogue.department_queues():
            return assignment
        queue = parsed
    reason = (
        f"learned lead: {queue.unit_name} (p={choice.probability:.2f}) over {assignment.unit_name} "
        f"(p={choice.rule_probability:.2f}), which cooperates; {assignment.reason}"
    )
    led = unit_assignment(queue, catalogue, place, now, reason=reason, timezone=timezone)
    held = [assignment.queue_id] if assignment.unit_kind is not UnitKind.manual else []
    cooperating = [unit for unit in dict.fromkeys([*held, *assignment.cooperating_units]) if unit != str(queue)]
    led = led.model_copy(update={"rule_id": None, "cooperating_units": cooperating, "attempt": assignment.attempt})
    return kept_urgency(led, assignment.priority, catalogue, now, timezone=timezone)


def learned_urgency_holds(call: Call, learned_urgency: float | None) -> bool:
    """Whether the learned scorer's flag makes the call urgent: it flagged the call, and the call does not tell
    only of a danger that is over or denied ('已经灭了', '不是漏气', 'false alarm') — the same test the
    life-or-safety rules' ``now_only`` applies to their words."""
    return learned_urgency is not None and not tells_of_the_past(call_text(call))


def made_urgent(
    assignment: Assignment,
    catalogue: Catalogue,
    now: datetime,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    note: str | None = None,
) -> Assignment:
    """``assignment`` as an urgent case: ``URGENT_PRIORITY`` and the deadlines urgency implies, counted from
    ``now`` — the shortest response and resolution times of the catalogue's life-or-safety rules (else
    ``URGENT_RESPONSE_HOURS``/``URGENT_RESOLUTION_DAYS``), or the assignment's own when they are shorter.
    A manual queue gets the urgent response time only (an operator decides there; no unit resolves)."""
    urgent_rules = [r for r in catalogue.rules if r.is_urgent]
    hours = min((r.assign.response_hours for r in urgent_rules), default=URGENT_RESPONSE_HOURS)
    resolutions = [
        resolution_due(now, r.assign.resolution_days, r.assign.calendar, holidays=catalogue.holidays, timezone=timezone)
        for r in urgent_rules
    ] or [now + timedelta(days=URGENT_RESOLUTION_DAYS)]
    update: dict[str, object] = {
        "priority": URGENT_PRIORITY,
        "response_due_at": _earlier(assignment.response_due_at, now + timedelta(hours=hours)),
    }
    if assignment.unit_kind is not UnitKind.manual:
        update["resolution_due_at"] = _earlier(assignment.resolution_due_at, min(resolutions))
    if note:
        update["reason"] = f"{assignment.reason}; {note}"
    return assignment.model_copy(update=update)


def kept_urgency(
    assignment: Assignment, held: int | None, catalogue: Catalogue, now: datetime, *, timezone: str = DEFAULT_TIMEZONE
) -> Assignment:
    """``assignment`` with the more urgent of its priority and ``held`` (the case's priority before). A case that
    was urgent is urgent with its next unit in full: the urgent priority and the short deadlines urgency implies,
    counted from ``now`` (``made_urgent``), not the next unit's everyday ones."""
    if is_urgent(held):
        return made_urgent(assignment, catalogue, now, timezone=timezone)
    priority = min(assignment.priority, held) if held else assignment.priority
    return assignment.model_copy(update={"priority": priority})


def _earlier(held: datetime | None, due: datetime) -> datetime:
    return due if held is None else min(held, due)


def _route(
    call: Call,
    classification: Classification,
    catalogue: Catalogue,
    now: datetime,
    *,
    timezone: str,
    place: Resolution,
    urgent: bool = False,
    calm: bool = False,
) -> Assignment:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    text = call_text(call)
    received = received_local(call, timezone)
    if classification.needs_review:
        by_words = rule_before_review(
            catalogue, classification, call.channel, place, text, received, urgent=urgent, calm=calm
        )
        if by_words is not None:  # a gas leak at confidence 0.39 is still a gas leak: never waits in 人工分拣
            assignment = _assignment(by_words, catalogue, place, now, timezone)
            note = (
                f"{'urgent' if by_words.is_urgent else 'dispatched by the citizen’s words'} before review "
                f"(classification {classification.category} at confidence {classification.confidence:.2f} "
                "waits for an operator)"
            )
            return assignment.model_copy(update={"reason": f"{assignment.reason}; {note}"})
        if catalogue.review.street_first and place.district and place.street and not urgent:
            reason = (
                f"classification needs review (confidence {classification.confidence:.2f}, category "
                f"{classification.category}) and no rule took it by its words: the street/town (属地) handles it; "
                f"location: {place.reason}"
            )
            street = QueueId.for_street(place.district, place.street)
            # no rule took it: the street's deadlines come from a template rule, but the case names none
            assignment = unit_assignment(street, catalogue, place, now, reason=reason, timezone=timezone)
            return assignment.model_copy(update={"rule_id": None})
        return Assignment(
            queue_id=MANUAL_CLASSIFICATION_QUEUE,
            unit_kind=UnitKind.manual,
            unit_name=MANUAL_CLASSIFICATION.unit_name,
            district=place.district,
            street=place.street,
            rule_id=None,
            catalogue_version=catalogue.version,
            reason=(
                f"classification needs review (confidence {classification.confidence:.2f}, "
                f"category {classification.category}): 人工分拣; location: {place.reason}"
            ),
            priority=catalogue.review.priority,
            response_due_at=now + timedelta(hours=catalogue.review.response_hours),
            resolution_due_at=None,
        )
    present = catalogue.words_in(text)
    set_aside: str | None = None  # the life-or-safety rule a calm scorer overruled
    for rule in catalogue.rules_for(present, classification.category):
        if rule_matches(
            rule.match, classification, call.channel, place, text, received, urgent=urgent, present=present
        ):
            if calm and rule.is_urgent:
                set_aside = set_aside or rule.id
                continue
            assignment = _assignment(rule, catalogue, place, now, timezone)
            break
    else:
        assignment = manual_dispatch(
            catalogue, place, f"no catalogue rule matched category {classification.category}; location: {place.reason}"
        )
    if set_aside is None:
        return assignment
    note = f"life-or-safety rule {set_aside} set aside: the learned urgency scorer finds no emergency now"
    return assignment.model_copy(update={"reason": f"{assignment.reason}; {note}"})


def manual_dispatch(catalogue: Catalogue, place: Resolution, reason: str, *, attempt: int = 1) -> Assignment:
    """The manual-dispatch queue (人工派单): an operator decides."""
    return Assignment(
        queue_id=MANUAL_DISPATCH_QUEUE,
        unit_kind=UnitKind.manual,
        unit_name=MANUAL_DISPATCH.unit_name,
        district=place.district,
        street=place.street,
        rule_id=None,
        catalogue_version=catalogue.version,
        reason=reason,
        priority=3,
        response_due_at=None,
        resolution_due_at=None,
        attempt=attempt,
    )


def candidate_assignments(
    call: Call,
    classification: Classification,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    now: datetime,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    place: Resolution | None = None,
) -> list[Assignment]:
    """Every unit that could take the call, best first: each matching rule in catalogue order (one per
    queue), then the district sub-centre when the district is known, then manual dispatch."""
    place = place or locate_call(call, gazetteer)
    text = call_text(call)
    received = received_local(call, timezone)
    candidates: list[Assignment] = []
    seen: set[str] = set()
    present = catalogue.words_in(text)
    for rule in catalogue.rules_for(present, classification.category):
        if rule_matches(rule.match, classification, call.channel, place, text, received, present=present):
            assignment = _assignment(rule, catalogue, place, now, timezone)
            if assignment.queue_id not in seen and assignment.unit_kind is not UnitKind.manual:
                seen.add(assignment.queue_id)
                candidates.append(assignment)
    if place.district and str(QueueId.for_district(place.district)) not in seen:
        district = QueueId.for_district(place.district)
        reason = f"district sub-centre of {place.district}; location: {place.reason}"
        candidates.append(unit_assignment(district, catalogue, place, now, reason=reason, timezone=timezone))
    candidates.append(manual_dispatch(catalogue, place, f"no other unit can take it; location: {place.reason}"))
    return candidates


def unit_assignment(
    queue: QueueId,
    catalogue: Catalogue,
    place: Resolution,
    now: datetime,
    *,
    reason: str,
    timezone: str = DEFAULT_TIMEZONE,
) -> Assignment:
    """A dispatch to ``queue`` that no matching rule makes (the district sub-centre as a last candidate, a
    unit a return's reason names): the district sub-centre rule gives a district its deadlines and priority,
    the first rule (not a life-or-safety one) leading to a street or department gives theirs, else the district
    sub-centre rule."""
    fallback = catalogue.rule(DISTRICT_FALLBACK_RULE)
    lead = "street" if queue.kind is UnitKind.street else str(queue)
    template = (
        fallback
        if queue.kind is UnitKind.district
        else next((r for r in catalogue.rules if r.assign.lead == lead and not r.is_urgent), None) or fallback
    )
    days, calendar = (template.assign.resolution_days, template.assign.calendar) if template else (10, "calendar")
    hours = template.assign.response_hours if template else 24
    return Assignment(
        queue_id=str(queue),
        unit_kind=queue.kind,
        unit_name=queue.unit_name,
        district=place.district,
        street=place.street,
        rule_id=template.id if template else None,
        catalogue_version=catalogue.version,
        reason=reason,
        priority=template.assign.priority if template else 3,
        response_due_at=now + timedelta(hours=hours),
        resolution_due_at=resolution_due(now, days, calendar, holidays=catalogue.holidays, timezone=timezone),
    )


def assignment_for_rule(
    rule: Rule, catalogue: Catalogue, place: Resolution, now: datetime, *, timezone: str = DEFAULT_TIMEZONE
) -> Assignment:
    """The dispatch ``rule`` makes for a call at ``place``."""
    return _assignment(rule, catalogue, place, now, timezone)


def _assignment(rule: Rule, catalogue: Catalogue, place: Resolution, now: datetime, timezone: str) -> Assignment:
    assign = rule.assign
    queue_id, unit_kind, unit_name = _lead_unit(assign.lead, place)
    notes: list[str] = []
    cooperating: list[str] = []
    for unit in assign.cooperating:
        unit_queue = _cooperating_queue(unit, place)
        if unit_queue is None:
            notes.append(f"cooperating {unit} left out: not resolved")
        elif unit_queue != queue_id and unit_queue not in cooperating:
            cooperating.append(unit_queue)
    reason = "; ".join([f"rule {rule.id}: {rule.description.zh}", f"location: {place.reason}", *notes])
    return Assignment(
        queue_id=queue_id,
        unit_kind=unit_kind,
        unit_name=unit_name,
        district=place.district,
        street=place.street,
        cooperating_units=cooperating,
        rule_id=rule.id,
        catalogue_version=catalogue.version,
        reason=reason,
        priority=assign.priority,
        response_due_at=now + timedelta(hours=assign.response_hours),
        resolution_due_at=resolution_due(
            now, assign.resolution_days, assign.calendar, holidays=catalogue.holidays, timezone=timezone
        ),
    )


def _lead_unit(lead: str, place: Resolution) -> tuple[str, UnitKind, str]:
    # The catalogue guarantees (requires_street / requires_district) that the place is resolved enough.
    queue = _unit_queue(lead, place) or MANUAL_DISPATCH
    return str(queue), queue.kind, queue.unit_name


def _unit_queue(unit: str, place: Resolution) -> QueueId | None:
    """The queue of a catalogue unit (street, district, department:<name>) for the call's place."""
    if unit == "street":
        return QueueId.for_street(place.district, place.street) if place.district and place.street else None
    if unit == "district":
        return QueueId.for_district(place.district) if place.district else None
    if unit.startswith(DEPARTMENT_PREFIX):
        return QueueId.parse(unit)
    return None


def _cooperating_queue(unit: str, place: Resolution) -> str | None:
    if unit in ("street", "district"):
        queue = _unit_queue(unit, place)
        return None if queue is None else str(queue)
    return unit
