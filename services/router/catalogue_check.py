"""Checking a dispatch catalogue file: invalid rules, unknown units, unreachable rules and overlaps, by line.

Pure: takes the YAML text, returns findings. ``hotline catalogue check FILE`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from shared.catalogue import (
    MINUTES_PER_DAY,
    Catalogue,
    CatalogueError,
    Department,
    Match,
    Rule,
    declared_names,
    in_window,
    parse_catalogue,
    qualify_places,
    unknown_departments,
)
from shared.gazetteer import Gazetteer, load_gazetteer
from shared.queues import split_qualified_street
from shared.reference import YAML_LOADER, read_yaml

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem of a catalogue, at a line (1-based) of its file."""

    line: int
    severity: Severity
    rule_id: str | None
    message: str

    def format(self, path: str) -> str:
        rule = f" rule {self.rule_id}:" if self.rule_id else ""
        return f"{path}:{self.line}: {self.severity}:{rule} {self.message}"


class _Lines:
    """Line numbers of the nodes of a YAML document, found by a path of keys and indexes."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def of(self, *path: str | int) -> int:
        """The 1-based line of the deepest node of ``path`` that exists (1 for an empty document)."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else 1
        for step in path:
            child = _child(node, step)
            if child is None:
                break
            node, line = child, child.start_mark.line + 1
        return line


def _child(node: yaml.Node | None, step: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == step:
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]
    return None


def check_catalogue_text(text: str, gazetteer: Gazetteer | None = None) -> list[Finding]:
    """Every problem of the catalogue in ``text``, sorted by line; errors make it unusable.

    Districts and streets are checked against ``gazetteer`` (the shipped one by default).
    """
    try:
        root = yaml.compose(text, Loader=YAML_LOADER)
        document = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [Finding(mark.line + 1 if mark else 1, "error", None, f"not valid YAML: {exc}")]
    lines = _Lines(root)
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list) or not document["rules"]:
        return [
            Finding(1, "error", None, "the catalogue must be a mapping with 'version' and a non-empty 'rules' list")
        ]
    findings: list[Finding] = []
    raw_rules: list[Any] = document["rules"]
    declared = declared_names(document.get("departments") or [])
    findings.extend(_unit_findings(document.get("departments"), lines))
    valid: list[tuple[int, Rule]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            rule = Rule.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                message = str(error["msg"]).removeprefix("Value error, ")
                where = ".".join(str(p) for p in loc) or "(rule)"
                findings.append(Finding(lines.of("rules", index, *loc), "error", rule_id, f"{where}: {message}"))
            continue
        if rule.id in seen:
            findings.append(
                Finding(
                    lines.of("rules", index, "id"),
                    "error",
                    rule.id,
                    f"duplicate id, already used at line {lines.of('rules', seen[rule.id])}",
                )
            )
        seen.setdefault(rule.id, index)
        if rule.match.districts or rule.match.streets:
            match, problems = qualify_places(rule.match, gazetteer or load_gazetteer())
            for loc, message in problems:
                where = "match." + ".".join(str(p) for p in loc)
                findings.append(
                    Finding(lines.of("rules", index, "match", *loc), "error", rule.id, f"{where}: {message}")
                )
            if problems:
                continue
            rule = rule.model_copy(update={"match": match})
        for unit in unknown_departments(rule, declared):
            findings.append(Finding(_unit_line(lines, index, rule, unit), "error", rule.id, f"unknown unit {unit!r}"))
        valid.append((index, rule))
    findings.extend(_reachability(valid, lines))
    try:
        Catalogue.model_validate({**document, "rules": [rule for _, rule in valid] or raw_rules})
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            if loc and loc[0] == "rules":
                continue
            where = ".".join(str(p) for p in loc) or "(root)"
            findings.append(Finding(lines.of(*loc), "error", None, f"{where}: {error['msg']}"))
    if not any(f.severity == "error" for f in findings):
        try:  # the run-time loader must agree: nothing the check passes may be refused when loaded
            parse_catalogue(document, gazetteer)
        except CatalogueError as exc:
            findings.append(Finding(1, "error", None, str(exc)))
    return sorted(findings, key=lambda f: (f.line, f.severity))


def _unit_findings(raw: Any, lines: _Lines) -> list[Finding]:
    """Declared departments that are not valid, repeated, or say nowhere where they are known from."""
    if not isinstance(raw, list):
        return []
    findings: list[Finding] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        try:
            unit = Department(name=str(item)) if not isinstance(item, dict) else Department.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"]) or "(unit)"
                message = str(error["msg"]).removeprefix("Value error, ")
                findings.append(
                    Finding(lines.of("departments", index), "error", None, f"departments.{where}: {message}")
                )
            continue
        if unit.name in seen:
            findings.append(Finding(lines.of("departments", index), "error", None, f"department {unit.name!r} twice"))
        seen.add(unit.name)
        if isinstance(item, dict) and not unit.source:
            findings.append(
                Finding(lines.of("departments", index), "warning", None, f"department {unit.name!r} has no source")
            )
    return findings


def _unit_line(lines: _Lines, index: int, rule: Rule, unit: str) -> int:
    if rule.assign.lead == unit:
        return lines.of("rules", index, "assign", "lead")
    return lines.of("rules", index, "assign", "cooperating", rule.assign.cooperating.index(unit))


def _reachability(rules: list[tuple[int, Rule]], lines: _Lines) -> list[Finding]:
    findings: list[Finding] = []
    for position, (index, rule) in enumerate(rules):
        earlier = rules[:position]
        shadow = next(((i, r) for i, r in earlier if covers(r.match, rule.match)), None)
        if shadow is not None:
            i, r = shadow
            findings.append(
                Finding(
                    lines.of("rules", index),
                    "error",
                    rule.id,
                    f"unreachable: every call it matches is taken first by rule {r.id} (line {lines.of('rules', i)})",
                )
            )
            continue
        for i, r in earlier:
            if r.assign.lead != rule.assign.lead and partially_overlap(r.match, rule.match):
                findings.append(
                    Finding(
                        lines.of("rules", index),
                        "warning",
                        rule.id,
                        f"overlaps rule {r.id} (line {lines.of('rules', i)}), which takes the calls both match",
                    )
                )
    return findings


_LIST_FIELDS = ("categories", "subcategories", "items", "issues", "channels")


def covers(earlier: Match, later: Match) -> bool:
    """Whether every call ``later`` matches is also matched by ``earlier`` (so ``later`` never decides).

    Places and times count like the other conditions: an earlier rule restricted to some districts,
    streets or hours covers only later rules restricted to (a subset of) the same.
    """
    for name in _LIST_FIELDS:
        wide, narrow = set(getattr(earlier, name)), set(getattr(later, name))
        if wide and not (narrow and narrow <= wide):
            return False
    if earlier.keywords and not (
        later.keywords and all(any(k in term for k in earlier.keywords) for term in later.keywords)
    ):
        return False
    if earlier.and_keywords and not (
        later.and_keywords and all(any(k in term for k in earlier.and_keywords) for term in later.and_keywords)
    ):
        return False
    if earlier.unless and not set(earlier.unless) <= set(later.unless):
        return False  # an exclusion lets through calls the later rule may take
    if earlier.within is not None and not (later.within is not None and later.within <= earlier.within):
        return False  # words kept close let through calls with the same words further apart
    if earlier.now_only and not later.now_only:
        return False  # a rule for present danger lets through calls telling of a past one
    if earlier.requires_urgency and not later.requires_urgency:
        return False  # a rule for calls judged urgent lets through every other call
    if earlier.skip_landmarks and not later.skip_landmarks:
        return False  # a rule reading past landmarks lets through calls naming its words only as a place
    if earlier.requires_street and not (later.requires_street or later.streets):
        return False
    if earlier.requires_district and not (
        later.requires_district or later.requires_street or later.districts or later.streets
    ):
        return False
    if earlier.districts:
        later_districts = _districts_of(later)
        if not (later_districts and later_districts <= set(earlier.districts)):
            return False
    if earlier.streets and not (later.streets and set(later.streets) <= set(earlier.streets)):
        return False
    if earlier.is_timed:
        wide_time, narrow_time = _time_of(earlier), _time_of(later)
        if narrow_time & ~wide_time:
            return False
    return True


def partially_overlap(first: Match, second: Match) -> bool:
    """Same kind of conditions (the same fields given), some call fits both, and neither covers the other.

    A rule narrower in one field and wider in another (keywords before a whole category, a night-time
    or one-district rule before an all-day, city-wide one) is the usual specific-before-general order
    and is not reported.
    """
    if _shape(first) != _shape(second) or not _shape(first):
        return False
    for name in _LIST_FIELDS:
        a, b = set(getattr(first, name)), set(getattr(second, name))
        if a and not a & b:
            return False
    for name in ("keywords", "and_keywords"):
        earlier, later = getattr(first, name), getattr(second, name)
        if earlier and not any(x in y for x in earlier for y in later):
            return False  # the earlier rule takes only calls with more specific words: specific before general
    if _narrower_place(first, second):
        return False
    if first.districts and not set(first.districts) & set(second.districts):
        return False
    if first.streets and not set(first.streets) & set(second.streets):
        return False
    if (first.is_timed or second.is_timed) and not _time_of(first) & _time_of(second):
        return False
    return not covers(first, second) and not covers(second, first)


def _narrower_place(first: Match, second: Match) -> bool:
    """Whether ``first`` needs a place ``second`` does not (a street rule before its district or no-place twin)."""
    if first.requires_street and not (second.requires_street or second.streets):
        return True
    return first.requires_district and not (
        second.requires_district or second.requires_street or second.districts or second.streets
    )


@lru_cache(maxsize=256)
def week_mask(hours: str | None, weekdays: tuple[str, ...]) -> int:
    """The minutes of the week (bit n = minute n from Monday 00:00) a window holds, as an integer bitmask."""
    mask = 0
    for day in range(7):
        for minute in range(MINUTES_PER_DAY):
            if in_window(hours, weekdays, day, minute):
                mask |= 1 << (day * MINUTES_PER_DAY + minute)
    return mask


_WHOLE_WEEK = (1 << (7 * MINUTES_PER_DAY)) - 1


def _time_of(match: Match) -> int:
    """The minutes of the week the match holds (every minute when it is not timed)."""
    return week_mask(match.hours, tuple(match.weekdays)) if match.is_timed else _WHOLE_WEEK


def _districts_of(match: Match) -> set[str]:
    """The districts a match is confined to (its districts, or those of its streets); empty: anywhere."""
    if match.districts:
        return set(match.districts)
    return {split_qualified_street(street)[0] for street in match.streets}


def _shape(match: Match) -> frozenset[str]:
    given = {
        name for name in (*_LIST_FIELDS, "keywords", "and_keywords", "districts", "streets") if getattr(match, name)
    }
    return frozenset(
        given | ({"time"} if match.is_timed else set()) | ({"urgency"} if match.requires_urgency else set())
    )
