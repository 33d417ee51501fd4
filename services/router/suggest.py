"""What returns and manual dispatches teach the dispatch catalogue (派单目录), pure: ``hotline catalogue
suggest`` reads the cases, this proposes rule changes with their evidence, for a person to review.

A case teaches something when it was returned (退单) or dispatched by an operator (人工派单) and has since
**settled**: a unit accepted it (签收 and after), or an operator chose its unit. Routed again with the
catalogue under review (``route``, the router's own code), it shows which rule sends such a case where
today; when that is not the kind of unit where it settled (a street, the district sub-centre, or that
department), the case is evidence for a rule that sends its problem there, placed before the rule that
decides today. Cases with the same problem (Monthly Question, else level-1 and level-2 category), the
same rule today and the same unit where they settled are one proposal; only those with at least
``min_cases`` cases are proposed. The evidence: how many, how many were returned and by whom, how many
an operator dispatched, where they settled, the units the returns' reasons named, example call ids
and reasons. Nothing is changed: the proposal is a rule to paste into the catalogue, check with
``hotline catalogue check`` and try on calls before shipping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from services.router.cases import CaseLike, call_of_case, classification_of_case
from services.router.lead import lead_example
from services.router.returns import named_departments, unit_names_of
from services.router.routing import DISTRICT_FALLBACK_RULE, route
from shared.cases import CaseDocument
from shared.catalogue import Catalogue, Rule
from shared.clock import DEFAULT_TIMEZONE
from shared.events import CaseEventKind, UnitKind
from shared.gazetteer import Gazetteer
from shared.lifecycle import CaseStatus
from shared.queues import QueueId, kind_of

ROUTER_ACTOR = "router"
SETTLED_STATUSES = frozenset(
    {CaseStatus.accepted, CaseStatus.responded, CaseStatus.resolved, CaseStatus.called_back, CaseStatus.closed}
)
EXAMPLES = 5


def lead_of(queue_id: str | None) -> str | None:
    """The catalogue lead a queue stands for: ``street``, ``district``, ``department:<name>``; None for manual."""
    kind = kind_of(queue_id or "")
    if kind is UnitKind.street:
        return "street"
    if kind is UnitKind.district:
        return "district"
    if kind is UnitKind.department:
        return str(queue_id)
    return None


@dataclass(frozen=True)
class Lesson:
    """What one settled case teaches: its problem, where the catalogue sends it today, where it settled."""

    call_id: str
    category: str
    subcategory: str | None
    issue: str | None
    rule_today: str | None
    lead_today: str | None
    settled_queue: str
    settled_lead: str
    manual: bool  # an operator chose the unit where it settled
    returned_by: tuple[str, ...]
    notes: tuple[str, ...]
    named: tuple[str, ...]  # department queues the returns' reasons named
    example: dict[str, object]  # the case as a learned lead example (services.router.lead), led where it settled


def lesson_of(
    case: CaseLike, catalogue: Catalogue, gazetteer: Gazetteer, now: datetime, *, timezone: str = DEFAULT_TIMEZONE
) -> Lesson | None:
    """What ``case`` teaches, or None: not returned nor dispatched by hand, not settled, or settled in manual."""
    case = CaseDocument.of(case)
    returns = [s for s in case.history if s.kind == CaseEventKind.returned.value and s.outcome != "rejected"]
    by_hand = [
        s
        for s in case.history
        if s.kind == CaseEventKind.dispatched.value and s.outcome != "rejected" and (s.actor or "") != ROUTER_ACTOR
    ]
    if not returns and not by_hand:
        return None
    settled_queue: str | None = None
    manual = False
    if case.status in SETTLED_STATUSES:
        settled_queue = case.lead_queue
        last_dispatch = next((s for s in reversed(case.history) if s.kind == CaseEventKind.dispatched.value), None)
        manual = bool(by_hand) and last_dispatch is not None and last_dispatch in by_hand
    elif by_hand and by_hand[-1].assignment is not None:
        settled_queue = by_hand[-1].assignment.queue_id
        manual = True
    settled_lead = lead_of(settled_queue)
    if settled_queue is None or settled_lead is None or not case.classification.category:
        return None
    call = call_of_case(case, now)
    today = route(call, classification_of_case(case), catalogue, gazetteer, now, timezone=timezone)
    names = unit_names_of(catalogue.department_queues())
    notes = tuple(s.note for s in returns if s.note)
    return Lesson(
        call_id=case.id,
        category=case.classification.category,
        subcategory=case.classification.subcategory,
        issue=case.classification.issue,
        rule_today=today.rule_id,
        lead_today=lead_of(today.queue_id),
        settled_queue=settled_queue,
        settled_lead=settled_lead,
        manual=manual,
        returned_by=tuple(s.queue_id for s in returns if s.queue_id),
        notes=notes,
        named=tuple(q for note in notes for q in named_departments(note, names)[0]),
        example=lead_example(case.id, call, settled_lead),
    )


@dataclass
class Suggestion:
    """A proposed rule, where it goes (before ``before``), and the cases behind it."""

    rule: dict[str, Any]
    before: str | None
    rule_today: str | None
    lead_today: str | None
    lessons: list[Lesson] = field(default_factory=list)

    @property
    def evidence(self) -> dict[str, Any]:
        lessons = self.lessons
        return {
            "cases": len(lessons),
            "returned": sum(bool(lesson.returned_by) for lesson in lessons),
            "returned_by": dict(Counter(q for lesson in lessons for q in lesson.returned_by).most_common()),
            "manual_dispatches": sum(lesson.manual for lesson in lessons),
            "settled_at": dict(Counter(lesson.settled_queue for lesson in lessons).most_common()),
            "named_in_returns": dict(Counter(q for lesson in lessons for q in lesson.named).most_common()),
            "example_call_ids": [lesson.call_id for lesson in lessons[:EXAMPLES]],
            "example_reasons": list(dict.fromkeys(n for lesson in lessons for n in lesson.notes))[:3],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "change": "add rule",
            "before": self.before,
            "why": self.why,
            "rule": self.rule,
            "today": {"rule": self.rule_today, "lead": self.lead_today},
            "evidence": self.evidence,
        }

    @property
    def why(self) -> str:
        problem = _problem_words(self.lessons[0])
        today = f"rule {self.rule_today} sends them to {self.lead_today or 'manual dispatch'}"
        return f"{len(self.lessons)} cases of {problem} settled at {self.rule['assign']['lead']}; today {today}"


def _problem_words(lesson: Lesson) -> str:
    if lesson.issue:
        return f"issue {lesson.issue}"
    return "/".join(p for p in (lesson.category, lesson.subcategory) if p)


def _problem_key(lesson: Lesson) -> tuple[str | None, ...]:
    return (lesson.issue,) if lesson.issue else (lesson.category, lesson.subcategory)


def suggest(lessons: Iterable[Lesson], catalogue: Catalogue, *, min_cases: int = 3) -> list[Suggestion]:
    """Proposed rules, most cases first: one per problem, rule of today and kind of unit where they settled."""
    groups: dict[tuple[Any, ...], list[Lesson]] = {}
    for lesson in lessons:
        if lesson.settled_lead == lesson.lead_today:
            continue  # the catalogue under review already sends it where it settled
        key = (*_problem_key(lesson), lesson.rule_today, lesson.settled_lead)
        groups.setdefault(key, []).append(lesson)
    suggestions = []
    for number, group in enumerate(sorted(groups.values(), key=lambda g: (-len(g), g[0].call_id)), start=1):
        if len(group) < min_cases:
            continue
        first = group[0]
        before = first.rule_today or _last_rule_id(catalogue)
        suggestions.append(
            Suggestion(
                rule=proposed_rule(first, catalogue, f"learned-{number}", len(group)),
                before=before,
                rule_today=first.rule_today,
                lead_today=first.lead_today,
                lessons=group,
            )
        )
    return suggestions


def _last_rule_id(catalogue: Catalogue) -> str | None:
    return catalogue.rules[-1].id if catalogue.rules else None


def proposed_rule(lesson: Lesson, catalogue: Catalogue, rule_id: str, cases: int) -> dict[str, Any]:
    """A catalogue rule sending ``lesson``'s problem to the kind of unit where it settled (deadlines of the
    first rule leading there, else of the district sub-centre rule), validated as a catalogue rule."""
    lead = lesson.settled_lead
    match: dict[str, Any] = {"issues": [lesson.issue]} if lesson.issue else {"categories": [lesson.category]}
    if not lesson.issue and lesson.subcategory:
        match["subcategories"] = [lesson.subcategory]
    if lead == "street":
        match["requires_street"] = True
    elif lead == "district":
        match["requires_district"] = True
    template = _template(catalogue, lead)
    assign: dict[str, Any] = {"lead": lead}
    if template is not None:
        assign.update(
            priority=template.assign.priority,
            response_hours=_number(template.assign.response_hours),
            resolution_days=_number(template.assign.resolution_days),
        )
        if template.assign.calendar != "calendar":
            assign["calendar"] = template.assign.calendar
    queue = QueueId.try_parse(lead)
    unit = (
        queue.unit_name
        if queue is not None and queue.kind is UnitKind.department
        else {"street": "属地街乡镇"}.get(lead, "区级分中心")
    )
    problem = _problem_words(lesson)
    rule = {
        "id": rule_id,
        "description": {
            "zh": f"{problem}：由{unit}牵头（根据{cases}件退单或人工派单）",
            "en": f"{problem} goes to {lead} (learned from {cases} returned or manually dispatched cases)",
        },
        "match": match,
        "assign": assign,
    }
    Rule.model_validate(rule)  # what the proposal says is a valid rule of the catalogue format
    return rule


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _template(catalogue: Catalogue, lead: str) -> Rule | None:
    fallback = catalogue.rule(DISTRICT_FALLBACK_RULE)
    if lead == "district":
        return fallback
    return next((r for r in catalogue.rules if r.assign.lead == lead), None) or fallback


def report(suggestions: Sequence[Suggestion], *, cases_read: int, lessons: int, catalogue: Catalogue) -> str:
    """The proposals as a person reads them, each with its evidence and the rule as catalogue YAML."""
    lines = [
        f"{cases_read} returned or hand-dispatched cases read, {lessons} settled; catalogue {catalogue.version}: "
        f"{len(suggestions)} proposed change(s)"
    ]
    for number, suggestion in enumerate(suggestions, start=1):
        evidence = suggestion.evidence
        lines += [
            "",
            f"{number}. {suggestion.why}",
            f"   returned {evidence['returned']} (by {_counts(evidence['returned_by'])}), "
            f"dispatched by hand {evidence['manual_dispatches']}; settled at {_counts(evidence['settled_at'])}",
        ]
        if evidence["named_in_returns"]:
            lines.append(f"   the returns' reasons named {_counts(evidence['named_in_returns'])}")
        lines.append(f"   examples: {', '.join(evidence['example_call_ids'])}")
        for reason in evidence["example_reasons"]:
            lines.append(f"   reason: {reason}")
        lines.append(f"   proposed rule, before {suggestion.before}:")
        rule_yaml = yaml.safe_dump([suggestion.rule], allow_unicode=True, sort_keys=False, width=200)
        lines += [f"     {line}" for line in rule_yaml.splitlines()]
    return "\n".join(lines)


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{key} ×{count}" for key, count in counter.items()) or "nobody"
