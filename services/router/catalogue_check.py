"""Checking a dispatch catalogue file: invalid rules, unknown units, unreachable rules and overlaps, by line.

Pure: takes the YAML text, returns findings. ``hotline catalogue check FILE`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from services.router.catalogue import (
    Catalogue,
    CatalogueError,
    Match,
    Rule,
    parse_catalogue,
    unknown_departments,
)

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


def check_catalogue_text(text: str) -> list[Finding]:
    """Every problem of the catalogue in ``text``, sorted by line; errors make it unusable."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
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
    declared = document.get("departments") or []
    declared = [str(d) for d in declared] if isinstance(declared, list) else []
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
            parse_catalogue(document)
        except CatalogueError as exc:
            findings.append(Finding(1, "error", None, str(exc)))
    return sorted(findings, key=lambda f: (f.line, f.severity))


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


_LIST_FIELDS = ("categories", "subcategories", "issues", "channels")


def covers(earlier: Match, later: Match) -> bool:
    """Whether every call ``later`` matches is also matched by ``earlier`` (so ``later`` never decides)."""
    for name in _LIST_FIELDS:
        wide, narrow = set(getattr(earlier, name)), set(getattr(later, name))
        if wide and not (narrow and narrow <= wide):
            return False
    if earlier.keywords and not (
        later.keywords and all(any(k in term for k in earlier.keywords) for term in later.keywords)
    ):
        return False
    if earlier.requires_street and not later.requires_street:
        return False
    return not (earlier.requires_district and not (later.requires_district or later.requires_street))


def partially_overlap(first: Match, second: Match) -> bool:
    """Same kind of conditions (the same fields given), some call fits both, and neither covers the other.

    A rule narrower in one field and wider in another (keywords before a whole category) is the usual
    specific-before-general order and is not reported.
    """
    if _shape(first) != _shape(second) or not _shape(first):
        return False
    for name in _LIST_FIELDS:
        a, b = set(getattr(first, name)), set(getattr(second, name))
        if a and not a & b:
            return False
    if first.keywords and not any(x in y or y in x for x in first.keywords for y in second.keywords):
        return False
    return not covers(first, second) and not covers(second, first)


def _shape(match: Match) -> frozenset[str]:
    return frozenset(name for name in (*_LIST_FIELDS, "keywords") if getattr(match, name))
