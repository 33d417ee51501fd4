"""Pure counters: what each case contributes to the pre-aggregated figures. No I/O.

A case's contribution to every counter is a function of its stored state alone
(``case_contributions``; the case itself is ``case_facts.py``). The writer applies ``after - before``
for each case a batch changes, inside the transaction that stores the case; ``hotline metrics rebuild``
sums the contributions of every stored case. The two therefore agree whenever each event is applied
exactly once, which the event ids recorded in the case's ``history`` guarantee.

Counters are kept per month (and per day for areas) in the city's time zone, the month and day a case
was *received* (``case_facts.case_document``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.metrics.case_facts import OPEN_STATUSES, area_of, problem_of
from services.metrics.case_search import block_entry, hour_of, open_entries, searchable_text
from shared.clock import as_utc
from shared.events import UnitKind
from shared.lifecycle import CaseStatus
from shared.queues import QueueId, kind_of

RESOLVED_STATUSES: frozenset[str] = frozenset({"resolved", "called_back", "closed"})
"""A case counts as resolved (解决) while it stands in one of these: a reopened case no longer does."""

DIMENSIONS: tuple[str, ...] = ("category", "issue", "unit", "district")
"""Monthly counter dimensions: level-1 category, Monthly-Question problem id, queue (unit), district."""

UNIT_FIELDS: tuple[str, ...] = (
    "count",
    "dispatched",
    "responded",
    "responded_on_time",
    "resolved",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "unreachable",
    "overdue_response",
    "overdue_resolution",
    "response_due",
    "resolution_due",
    "linked",
    "cooperated",
)
"""Fields of a ``unit`` or ``district`` monthly counter."""

QUEUE_COUNTER_PREFIX = "queue|"

Contributions = dict[str, dict[str, int]]
"""counter id -> field -> amount."""


def monthly_counter_id(month: str, dimension: str, value: str) -> str:
    """The ``_id`` of a monthly counter, e.g. ``2026-04|category|劳动和社会保障``."""
    return f"{month}|{dimension}|{value}"


def queue_counter_id(queue_id: str) -> str:
    """The ``_id`` of a queue's depth counter, e.g. ``queue|street:大兴区/西红门镇``."""
    return f"{QUEUE_COUNTER_PREFIX}{queue_id}"


def area_counter_id(day: str, area: str) -> str:
    """The ``_id`` of an area's daily counter (hot spots), e.g. ``2026-04-10|area|大兴区/西红门镇``: one document a
    street/town and day with a count per problem (``problems.<problem>``, ``problem_field``).

    One per area and day, not per area, problem and day: a batch's calls touch a street's problems together,
    so a batch writes (and the hot-spot check reads) one document per street instead of one per street and
    problem — measured in docs/performance.md."""
    return f"{day}|area|{area}"


AREA_PROBLEMS = "problems"
"""The field of an area's daily counter that holds its count per problem (keyed by ``field_key(problem)``)."""


def problem_field(problem: str) -> str:
    """The field of an area's daily counter that counts ``problem``."""
    return f"{AREA_PROBLEMS}.{field_key(problem)}"


def parse_counter_id(counter_id: str) -> tuple[str, str, str]:
    """The (month or day, dimension, value) of a counter id; the value may itself contain ``|``."""
    period, dimension, value = counter_id.split("|", 2)
    return period, dimension, value


def case_contributions(case: Mapping[str, Any]) -> Contributions:
    """Every counter amount this case contributes in its current state (zero amounts left out)."""
    out: Contributions = defaultdict(dict)
    month, status = case["month"], case["status"]
    classification = case["classification"]
    linked = status == CaseStatus.linked.value
    out[monthly_counter_id(month, "category", classification["category"])]["count"] = 1
    if classification.get("issue"):
        out[monthly_counter_id(month, "issue", classification["issue"])]["count"] = 1
    area = area_of(case)
    if area is not None:
        out[area_counter_id(case["day"], area)][problem_field(problem_of(case))] = 1
    unit_id = monthly_counter_id(month, "unit", case["queue_id"])
    district_id = monthly_counter_id(month, "district", case["district"]) if case.get("district") else None
    if district_id:
        out[district_id]["count"] = 1
    if linked:
        out[unit_id]["linked"] = 1
    else:
        outcome = _unit_outcome(case)
        for counter_id in (unit_id, district_id):
            if counter_id is None:
                continue
            fields = out[counter_id]
            for name, amount in outcome.items():
                fields[name] = fields.get(name, 0) + amount
        out[unit_id]["count"] = 1
    for deadline, flag in (case.get("overdue") or {}).items():
        out[monthly_counter_id(month, "unit", flag["queue_id"])][f"overdue_{deadline}"] = 1
    for department in case.get("summoned") or ():
        out[monthly_counter_id(month, "unit", department)]["cooperated"] = 1
    queue = out[queue_counter_id(case["queue_id"])]
    if not linked:
        queue["dispatched"] = 1
    if status in OPEN_STATUSES:
        queue["open"] = 1
        if case.get("overdue"):
            queue["overdue"] = 1
        # Each operator's load (承办人): open = unassigned + the sum over assignees, read in one document.
        if case.get("assignee"):
            queue[assignee_field(case["assignee"])] = 1
        else:
            queue["unassigned"] = 1
    # The month's street scoreboard in one document: every street's counts, so a ranking reads one document.
    for counter_id, fields in list(out.items()):
        if counter_id.startswith(QUEUE_COUNTER_PREFIX):
            continue
        period, dimension, value = parse_counter_id(counter_id)
        if dimension == "unit" and kind_of(value) is UnitKind.street:
            summary = out[streets_counter_id(period)]
            for name, amount in fields.items():
                summary[f"units.{field_key(value)}.{name}"] = amount
    return {
        counter_id: {k: v for k, v in fields.items() if v} for counter_id, fields in out.items() if any(fields.values())
    }


def streets_counter_id(month: str) -> str:
    """The ``_id`` of a month's street scoreboard document, e.g. ``2026-04|streets|all``."""
    return f"{month}|streets|all"


ASSIGNEES_FIELD = "assignees"
"""The queue counter's sub-document of open cases per assignee (承办人): ``assignees.<field_key(name)>``."""


def assignee_field(assignee: str) -> str:
    """The queue counter's field counting ``assignee``'s open cases of the queue."""
    return f"{ASSIGNEES_FIELD}.{field_key(assignee)}"


def field_key(unit_id: str) -> str:
    """A unit id usable as a MongoDB field name (no dots, no leading $)."""
    return unit_id.replace(".", "\uff0e").replace("$", "\uff04")


def unit_of_field_key(key: str) -> str:
    """The unit id a ``field_key`` was made from."""
    return key.replace("\uff0e", ".").replace("\uff04", "$")


def _unit_outcome(case: Mapping[str, Any]) -> dict[str, int]:
    outcome = {"dispatched": 1}
    responded_at = case.get("responded_at")
    if responded_at:
        outcome["responded"] = 1
        due = case["assignment"].get("response_due_at")
        if due is None or as_utc(responded_at) <= as_utc(due):
            outcome["responded_on_time"] = 1
    overdue = case.get("overdue") or {}
    if responded_at or "response" in overdue:
        outcome["response_due"] = 1  # its response is judged: answered, or its deadline passed unanswered
    if case["status"] in RESOLVED_STATUSES:
        outcome["resolved"] = 1
    if case["status"] in RESOLVED_STATUSES or "resolution" in overdue:
        outcome["resolution_due"] = 1  # judged: resolved, or its deadline passed unresolved
    if case.get("callback_result"):
        outcome[str(case["callback_result"])] = 1
    return outcome


def id_meta(counter_id: str) -> dict[str, Any]:
    """The descriptive fields a counter's id alone gives: the same whether a case of the batch described the
    counter (``counter_meta`` adds the case's labels to these) or none did (a rebuild, a take-away)."""
    if counter_id.startswith(QUEUE_COUNTER_PREFIX):
        return {"dimension": "queue", "queue_id": counter_id[len(QUEUE_COUNTER_PREFIX) :]}
    period, dimension, value = parse_counter_id(counter_id)
    if dimension == "area":
        return {"day": period, "month": period[:7], "dimension": "area", "area": value}
    return {"month": period[:7], "dimension": dimension, "value": value}


def counter_meta(
    case: Mapping[str, Any], contributions: Mapping[str, Mapping[str, int]] | None = None
) -> dict[str, dict[str, Any]]:
    """The descriptive fields ($set) of the counters this case touches: period, dimension, labels.
    ``contributions``: ``case_contributions(case)`` when the caller has it already."""
    meta: dict[str, dict[str, Any]] = {}
    assignment = case["assignment"]
    for counter_id in case_contributions(case) if contributions is None else contributions:
        entry = meta[counter_id] = id_meta(counter_id)
        if entry["dimension"] == "queue":
            if entry["queue_id"] == case["queue_id"]:
                entry.update(
                    unit_kind=assignment["unit_kind"],
                    unit_name=assignment["unit_name"],
                    district=assignment["district"],
                )
        elif entry["dimension"] == "unit":
            value = entry["value"]
            queue = QueueId.try_parse(value)
            entry["unit_kind"] = queue.kind.value if queue else assignment["unit_kind"]
            entry["label"] = assignment["unit_name"] if value == case["queue_id"] else (queue.body if queue else value)
    return meta


@dataclass
class CounterChanges:
    """Counter amounts to add (negative to take away) and descriptive fields to set, summed over a batch."""

    amounts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues_left: dict[str, set[str]] = field(default_factory=dict)
    """Queues that lost open cases -> those cases: if one was the oldest waiting, look it up again."""
    queues_gained: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    """Queues that gained open cases -> the oldest (received_at, call id) among them."""
    open_cases: dict[tuple[str, str], dict[str, dict[str, Any] | None]] = field(default_factory=dict)
    """The queue digests' changes: (queue, hour received) -> call id -> the case's search entry, None when it left."""
    word_blocks: dict[str, dict[str, str]] = field(default_factory=dict)
    """The word blocks' changes: hour received -> call id -> its entry (new cases, changed text)."""

    def add_case(self, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> None:
        """Add the change from ``before`` (None for a new case) to ``after``."""
        old = case_contributions(before) if before is not None else {}
        new = case_contributions(after)
        for counter_id in set(old) | set(new):
            for name in set(old.get(counter_id, {})) | set(new.get(counter_id, {})):
                delta = new.get(counter_id, {}).get(name, 0) - old.get(counter_id, {}).get(name, 0)
                if delta:
                    fields = self.amounts[counter_id]
                    fields[name] = fields.get(name, 0) + delta
        self.meta.update(counter_meta(after, new))  # the counters it touches, found once
        was_open = before is not None and before["status"] in OPEN_STATUSES
        is_open = after["status"] in OPEN_STATUSES
        if was_open and (not is_open or before["queue_id"] != after["queue_id"]):  # type: ignore[index]
            self.queues_left.setdefault(before["queue_id"], set()).add(str(before["_id"]))  # type: ignore[index]
        if is_open and not (was_open and before["queue_id"] == after["queue_id"]):  # type: ignore[index]
            waiting = (as_utc(after["received_at"]), str(after["_id"]))
            queue_id = after["queue_id"]
            self.queues_gained[queue_id] = min(self.queues_gained.get(queue_id, waiting), waiting)
        old_entries = open_entries(before) if before is not None else {}
        new_entries = open_entries(after)
        for key in old_entries.keys() | new_entries.keys():
            entry = new_entries.get(key)
            if entry != old_entries.get(key):
                self.open_cases.setdefault(key, {})[str(after["_id"])] = entry
        if before is None or searchable_text(before) != searchable_text(after):
            self.word_blocks.setdefault(hour_of(after["received_at"]), {})[str(after["_id"])] = block_entry(after)

    def nonzero(self) -> dict[str, dict[str, int]]:
        """The amounts without zero entries."""
        cleaned = {cid: {k: v for k, v in fields.items() if v} for cid, fields in self.amounts.items()}
        return {cid: fields for cid, fields in cleaned.items() if fields}


def sum_contributions(cases: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Every counter rebuilt from the cases' stored state (what ``hotline metrics rebuild`` writes)."""
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    for case in cases:
        for counter_id, fields in case_contributions(case).items():
            target = totals[counter_id]
            for name, amount in fields.items():
                target[name] = target.get(name, 0) + amount
    return dict(totals)
