"""``hotline route``: a dry run of the whole dispatch decision, no server, no broker, no database.

JSON lines ``{id, subject, body, location?, channel?, received_at?}`` on stdin (``location``: an address
string or ``{address, district, street}``), one line per call on stdout::

    {id, category, subcategory, item, issue, confidence, district, street, lead, cooperating, priority,
     response_due_at, resolution_due_at, rule, reason}

The call is classified by the shipped classifier (``services.classifier.model``) and dispatched by the
router's pure code (``services.router.routing.route``) with a catalogue file: the same decision the running
platform makes, minus duplicate linking (which needs the case store). The dispatch time is the call's
``received_at`` (default: now), so due times read as "received + service time".

``--catalogue FILE`` tries a changed catalogue; ``--compare OTHER`` routes every call with both and prints
only the calls OTHER would move (lead, cooperating units or priority), with a summary on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from services.classifier.model import Classifier
from services.classifier.settings import ClassifierSettings
from services.intake.domain import detect_language
from services.router.lead import LeadScorer, load_scorers
from services.router.routing import locate_call, route
from services.router.settings import RouterSettings
from services.router.urgency import NO_JUDGEMENT, UrgencyScorer
from shared.catalogue import DEFAULT_CATALOGUE_PATH, Catalogue, CatalogueError, load_catalogue
from shared.clock import as_utc
from shared.events import Assignment, Call, Channel, Classification, Location, utc_now
from shared.gazetteer import Gazetteer, load_gazetteer
from shared.queues import URGENT, QueueId, priority_label

SOURCE_SYSTEM = "hotline-route"
BATCH = 500
MOVED_FIELDS = ("lead", "cooperating", "priority")


@dataclass(frozen=True)
class Request:
    """One input line, parsed: its id and the call it stands for, or why it is not one."""

    id: Any
    call: Call | None
    error: str | None = None


def parse_request(line: str, number: int, *, now: datetime) -> Request:
    """The call of a JSON line; a bad line gets an ``error`` naming the line and the field."""
    try:
        item = json.loads(line)
    except ValueError as exc:
        return Request(None, None, f"line {number}: invalid JSON: {exc}")
    if not isinstance(item, dict):
        return Request(None, None, f"line {number}: expected a JSON object with id, subject and body")
    request_id = item.get("id")
    body, subject = item.get("body"), item.get("subject") or ""
    if not isinstance(body, str) or not body.strip():
        return Request(request_id, None, f"line {number}: body must be a non-empty string")
    if not isinstance(subject, str):
        return Request(request_id, None, f"line {number}: subject must be a string")
    raw_location = item.get("location")
    try:
        location = (
            Location(address=raw_location)
            if isinstance(raw_location, str)
            else Location.model_validate(raw_location or {})
        )
        received = item.get("received_at")
        call = Call.model_validate(
            {
                "channel": item.get("channel") or Channel.phone,
                "source_system": SOURCE_SYSTEM,
                "external_id": str(request_id if request_id is not None else number),
                "subject": subject,
                "body": body,
                "language": detect_language(f"{subject}\n{body}"),
                "location": location,
                "received_at": received if received is not None else now,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return Request(request_id, None, f"line {number}: {problems}")
    return Request(request_id, call)


def read_requests(lines: Iterable[str], *, now: datetime | None = None) -> Iterator[Request]:
    """Every non-blank line as a request (``now``: the received time of calls that give none)."""
    moment = now or utc_now()
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield parse_request(line, number, now=moment)


class Dispatcher:
    """The classifier and the gazetteer, loaded once; ``decide`` routes batches with any catalogue."""

    def __init__(
        self,
        model: Classifier,
        gazetteer: Gazetteer,
        *,
        timezone: str,
        scorer: UrgencyScorer | None = None,
        lead: LeadScorer | None = None,
    ) -> None:
        self.model, self.gazetteer, self.timezone, self.scorer, self.lead = model, gazetteer, timezone, scorer, lead

    @classmethod
    def load(cls, model_path: Path | None = None) -> Dispatcher:
        """The shipped classifier and gazetteer, and the learned urgency and lead scorers as the router's
        settings say."""
        settings = RouterSettings()
        model = Classifier.load(model_path, min_confidence=ClassifierSettings().min_confidence)
        scorer, lead = load_scorers(settings)
        return cls(model, load_gazetteer(), timezone=settings.timezone, scorer=scorer, lead=lead)

    def classify(self, calls: Sequence[Call]) -> list[Classification]:
        return self.model.predict([(call.subject, call.body) for call in calls])

    def decide(
        self, calls: Sequence[Call], classifications: Sequence[Classification], catalogue: Catalogue
    ) -> list[Assignment]:
        """The dispatch decision of each classified call, at the moment it was received."""
        judgements = self.scorer.judge(calls) if self.scorer else [NO_JUDGEMENT] * len(calls)
        votes = self.lead.votes(calls) if self.lead else [None] * len(calls)
        return [
            route(
                call,
                classification,
                catalogue,
                self.gazetteer,
                call.received_at,
                timezone=self.timezone,
                place=locate_call(call, self.gazetteer),
                learned_urgency=judgement.flag,
                learned_calm=judgement.calm,
                learned_lead=vote,
            )
            for call, classification, judgement, vote in zip(calls, classifications, judgements, votes, strict=True)
        ]


def decision_line(request_id: Any, classification: Classification, assignment: Assignment) -> dict[str, Any]:
    """The output line of one call."""
    return {
        "id": request_id,
        "category": classification.category,
        "subcategory": classification.subcategory,
        "item": classification.item,
        "issue": classification.issue,
        "confidence": classification.confidence,
        "district": assignment.district,
        "street": assignment.street,
        "lead": assignment.queue_id,
        "cooperating": list(assignment.cooperating_units),
        "priority": priority_label(assignment.priority),
        "response_due_at": _iso(assignment.response_due_at),
        "resolution_due_at": _iso(assignment.resolution_due_at),
        "rule": assignment.rule_id,
        "reason": assignment.reason,
    }


def route_requests(
    requests: Iterable[Request], dispatcher: Dispatcher, catalogue: Catalogue
) -> Iterator[dict[str, Any]]:
    """One output line per request, in order: the decision, or ``{id, error}`` for a bad line."""
    for batch, classified in _classified_batches(requests, dispatcher):
        decisions = dispatcher.decide([call for _, call, _ in classified], _only(classified), catalogue)
        decided = {id(request): (c, a) for (request, _, c), a in zip(classified, decisions, strict=True)}
        for request in batch:
            if request.call is None:
                yield {"id": request.id, "error": request.error}
            else:
                yield decision_line(request.id, *decided[id(request)])


def compare_requests(
    requests: Iterable[Request], dispatcher: Dispatcher, before: Catalogue, after: Catalogue
) -> Iterator[dict[str, Any]]:
    """The calls ``after`` dispatches differently from ``before`` (lead, cooperating units or priority):
    ``{id, moved: [fields], before: {lead, cooperating, priority, rule}, after: {...}}``; bad lines as errors."""
    for batch, classified in _classified_batches(requests, dispatcher):
        calls = [call for _, call, _ in classified]
        old = dispatcher.decide(calls, _only(classified), before)
        new = dispatcher.decide(calls, _only(classified), after)
        by_request = {id(request): (c, a, b) for (request, _, c), a, b in zip(classified, old, new, strict=True)}
        for request in batch:
            if request.call is None:
                yield {"id": request.id, "error": request.error}
                continue
            classification, was, will = by_request[id(request)]
            line_before = decision_line(request.id, classification, was)
            line_after = decision_line(request.id, classification, will)
            moved = [name for name in MOVED_FIELDS if line_before[name] != line_after[name]]
            if moved:
                yield {
                    "id": request.id,
                    "moved": moved,
                    "before": {k: line_before[k] for k in (*MOVED_FIELDS, "rule")},
                    "after": {k: line_after[k] for k in (*MOVED_FIELDS, "rule")},
                }


def accepted_leads(label: dict[str, Any]) -> set[str]:
    """The lead queue ids a labelled call accepts: queue ids as written, ``street`` / ``district`` standing
    for the street and district queues of the call's labelled ``place`` [district, street]."""
    district, street = [*list(label.get("place") or []), None, None][:2]
    leads: set[str] = set()
    for unit in label.get("accept") or []:
        if unit == "street":
            if district and street:
                leads.add(str(QueueId.for_street(district, street)))
        elif unit == "district":
            if district:
                leads.add(str(QueueId.for_district(district)))
        else:
            leads.add(unit)
    return leads


@dataclass
class Evaluation:
    """How a catalogue dispatches a labelled set: accepted leads per category, urgent recall, misses."""

    per_category: dict[str, list[int]]  # category -> [accepted, calls]
    urgent_found: int
    urgent_total: int
    false_urgent: list[str]
    misses: list[dict[str, Any]]

    @property
    def accepted(self) -> int:
        return sum(a for a, _ in self.per_category.values())

    @property
    def total(self) -> int:
        return sum(n for _, n in self.per_category.values())

    @property
    def rate(self) -> float:
        return self.accepted / self.total if self.total else 0.0

    @property
    def urgent_recall(self) -> float:
        return self.urgent_found / self.urgent_total if self.urgent_total else 1.0

    def describe(self) -> str:
        lines = [f"{'category':<16}{'calls':>6}{'accepted':>10}{'rate':>7}"]
        for category, (accepted, calls) in sorted(self.per_category.items(), key=lambda kv: -kv[1][1]):
            lines.append(f"{category:<16}{calls:>6}{accepted:>10}{accepted / calls:>7.2f}")
        lines.append(f"{'overall':<16}{self.total:>6}{self.accepted:>10}{self.rate:>7.2f}")
        lines.append(
            f"urgent recall {self.urgent_found}/{self.urgent_total} = {self.urgent_recall:.2f}; "
            f"marked urgent without a life-or-safety label: {len(self.false_urgent)} {self.false_urgent}"
        )
        return "\n".join(lines)


def evaluate(labels: Sequence[dict[str, Any]], decisions: Sequence[dict[str, Any]]) -> Evaluation:
    """Score ``decisions`` (output lines of ``route_requests``) against the labelled calls, by id."""
    decided = {line["id"]: line for line in decisions}
    per_category: dict[str, list[int]] = {}
    urgent_found = urgent_total = 0
    false_urgent: list[str] = []
    misses: list[dict[str, Any]] = []
    for label in labels:
        line = decided.get(label["id"], {})
        counts = per_category.setdefault(str(label.get("category", "?")), [0, 0])
        counts[1] += 1
        urgent = line.get("priority") == URGENT
        if line.get("lead") in accepted_leads(label):
            counts[0] += 1
        else:
            misses.append(
                {k: line.get(k) for k in ("id", "category", "confidence", "lead", "rule")}
                | {"accept": label.get("accept")}
            )
        if label.get("urgent"):
            urgent_total += 1
            urgent_found += urgent
        elif urgent:
            false_urgent.append(str(label["id"]))
    return Evaluation(per_category, urgent_found, urgent_total, false_urgent, misses)


def summarise_moves(moves: Sequence[dict[str, Any]], total: int) -> str:
    """How many calls a catalogue change moves, and the commonest moves (lead before -> lead after)."""
    moved = [m for m in moves if "moved" in m]
    leads = Counter((m["before"]["lead"], m["after"]["lead"]) for m in moved if "lead" in m["moved"])
    lines = [f"{len(moved)} of {total} calls move ({sum(leads.values())} change lead)"]
    lines += [f"  {count:4d}  {was} -> {will}" for (was, will), count in leads.most_common(10)]
    return "\n".join(lines)


Classified = list[tuple[Request, Call, Classification]]


def _classified_batches(
    requests: Iterable[Request], dispatcher: Dispatcher
) -> Iterator[tuple[list[Request], Classified]]:
    """Batches of requests with their good calls classified in one model call each."""
    batch: list[Request] = []
    for request in requests:
        batch.append(request)
        if len(batch) == BATCH:
            yield batch, _classify(batch, dispatcher)
            batch = []
    if batch:
        yield batch, _classify(batch, dispatcher)


def _classify(batch: list[Request], dispatcher: Dispatcher) -> Classified:
    good = [(request, request.call) for request in batch if request.call is not None]
    decisions = dispatcher.classify([call for _, call in good])
    return [(request, call, decision) for (request, call), decision in zip(good, decisions, strict=True)]


def _only(classified: Classified) -> list[Classification]:
    return [classification for _, _, classification in classified]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat().replace("+00:00", "Z")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalogue",
        type=Path,
        default=None,
        help="catalogue YAML to dispatch with (default: HOTLINE_CATALOGUE_PATH or the shipped one)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="OTHER_CATALOGUE",
        help="print only the calls OTHER_CATALOGUE would dispatch differently, and a summary on stderr",
    )
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="the input is a labelled set (accept, place, urgent, category per line, tests/data/dispatch_calls.jsonl): "
        "print the accepted-lead rate per category, the urgent recall and the misses instead",
    )
    parser.add_argument("--model", type=Path, default=None, help="classifier artifact directory (default: shipped)")
    parser.add_argument("input", type=Path, nargs="?", default=None, help="JSON-lines file (default: stdin)")


def run(args: argparse.Namespace) -> int:
    try:
        catalogue = load_catalogue(args.catalogue or RouterSettings().catalogue_path or DEFAULT_CATALOGUE_PATH)
        other = load_catalogue(args.compare) if args.compare is not None else None
    except (CatalogueError, OSError) as exc:
        print(f"hotline route: {exc}", file=sys.stderr)
        return 2
    dispatcher = Dispatcher.load(args.model)
    source: TextIO = args.input.open(encoding="utf-8") if args.input is not None else sys.stdin
    with source:
        requests_text = source.read().splitlines()
    requests = list(read_requests(requests_text))
    out = sys.stdout
    if args.evaluate:
        labels = [json.loads(line) for line in requests_text if line.strip()]
        report = evaluate(labels, list(route_requests(requests, dispatcher, catalogue)))
        for miss in report.misses:
            out.write(json.dumps(miss, ensure_ascii=False) + "\n")
        print(report.describe(), file=out)
        return 0
    if other is None:
        for line in route_requests(requests, dispatcher, catalogue):
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        return 0
    moves = list(compare_requests(requests, dispatcher, catalogue, other))
    for line in moves:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(summarise_moves(moves, sum(r.call is not None for r in requests)), file=sys.stderr)
    return 0
