"""The dispatch catalogue (派单目录): ordered rules, first match wins, loaded from YAML and validated."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.events import Channel

DEFAULT_CATALOGUE_PATH = Path(__file__).parent / "data" / "catalogue.yaml"

# Level-1 categories of the official taxonomy of citizen messages to government.
LEVEL1_CATEGORIES = frozenset(
    {
        "城乡建设", "劳动和社会保障", "教育文体", "卫生计生", "交通运输", "商贸旅游", "环境保护", "农村农业",
        "政法", "民政", "党务政务", "经济管理", "纪检监察", "国土资源", "科技与信息产业",
    }
)  # fmt: skip
# Monthly-Question (每月一题) problem ids the classifier can attach to a call.
ISSUE_IDS = frozenset(
    {
        "wage-arrears", "property-certificate", "online-consumption", "old-community-renovation",
        "inclusive-kindergarten", "home-elderly-care", "unlicensed-e-vehicles", "prepaid-refund",
        "training-institutions",
    }
)  # fmt: skip
DEPARTMENT_PREFIX = "department:"
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class CatalogueError(ValueError):
    """The catalogue file is not valid; the message names the rule (index and id) and the field."""


def _check_unit(value: str, *, allowed: tuple[str, ...], what: str) -> str:
    if value in allowed:
        return value
    if value.startswith(DEPARTMENT_PREFIX) and value[len(DEPARTMENT_PREFIX) :].strip():
        return value
    raise ValueError(f"bad {what} {value!r}: expected {' | '.join(repr(a) for a in allowed)} or 'department:<name>'")


class Description(BaseModel):
    """What a rule is for, for operators (Chinese) and maintainers (English)."""

    model_config = ConfigDict(extra="forbid")

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Match(BaseModel):
    """Conditions of a rule: every given list must contain the call's value (any of its keywords)."""

    model_config = ConfigDict(extra="forbid")

    categories: list[str] = Field(default_factory=list, description="Level-1 category names.")
    subcategories: list[str] = Field(default_factory=list, description="Level-2 category names.")
    issues: list[str] = Field(default_factory=list, description="Monthly-Question problem ids.")
    keywords: list[str] = Field(default_factory=list, description="Any of these in the subject or body.")
    channels: list[Channel] = Field(default_factory=list, description="Channels the call came through.")
    requires_street: bool = Field(False, description="Only when the street/town was resolved.")
    requires_district: bool = Field(False, description="Only when at least the district was resolved.")

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in LEVEL1_CATEGORIES]
        if unknown:
            raise ValueError(f"unknown level-1 categories {unknown}; known: {sorted(LEVEL1_CATEGORIES)}")
        return value

    @field_validator("issues")
    @classmethod
    def _known_issues(cls, value: list[str]) -> list[str]:
        unknown = [i for i in value if i not in ISSUE_IDS]
        if unknown:
            raise ValueError(f"unknown issue ids {unknown}; known: {sorted(ISSUE_IDS)}")
        return value

    @field_validator("subcategories", "keywords")
    @classmethod
    def _no_blank_terms(cls, value: list[str]) -> list[str]:
        if any(not term.strip() for term in value):
            raise ValueError("blank entries are not allowed")
        return value


class Assign(BaseModel):
    """Who handles a matched call and how fast."""

    model_config = ConfigDict(extra="forbid")

    lead: str = Field(description="street (直派) | district (sub-centre) | manual | department:<name>.")
    cooperating: list[str] = Field(default_factory=list, description="street | district | department:<name>.")
    priority: int = Field(3, ge=1, le=5, description="1 = most urgent.")
    response_hours: float = Field(gt=0, description="Citizen contacted within (calendar hours).")
    resolution_days: float = Field(gt=0, description="Resolved within (days, counted by ``calendar``).")
    calendar: Literal["calendar", "working"] = Field(
        "calendar", description="How resolution_days count: every day, or working days (no Sat/Sun/holidays)."
    )

    @field_validator("lead")
    @classmethod
    def _lead_syntax(cls, value: str) -> str:
        return _check_unit(value, allowed=("street", "district", "manual"), what="lead")

    @field_validator("cooperating")
    @classmethod
    def _cooperating_syntax(cls, value: list[str]) -> list[str]:
        return [_check_unit(v, allowed=("street", "district"), what="cooperating unit") for v in value]


class Rule(BaseModel):
    """One catalogue item: when it matches, who leads and who cooperates."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable id, lowercase with dashes.")
    description: Description
    match: Match = Field(default_factory=lambda: Match.model_validate({}))
    assign: Assign

    @field_validator("id")
    @classmethod
    def _id_syntax(cls, value: str) -> str:
        if not _RULE_ID.match(value):
            raise ValueError(f"rule id {value!r} must be lowercase letters, digits and dashes")
        return value

    @model_validator(mode="after")
    def _lead_needs_its_place(self) -> Rule:
        if self.assign.lead == "street" and not self.match.requires_street:
            raise ValueError("lead 'street' needs match.requires_street: true")
        if self.assign.lead == "district" and not (self.match.requires_district or self.match.requires_street):
            raise ValueError("lead 'district' needs match.requires_district: true")
        return self

    @property
    def is_catch_all(self) -> bool:
        m = self.match
        return not (m.categories or m.subcategories or m.issues or m.keywords or m.channels) and not (
            m.requires_street or m.requires_district
        )


class ReviewQueue(BaseModel):
    """Service times of the manual-classification queue (人工分拣)."""

    model_config = ConfigDict(extra="forbid")

    priority: int = Field(2, ge=1, le=5)
    response_hours: float = Field(2, gt=0)


class Catalogue(BaseModel):
    """A versioned dispatch catalogue."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, description="Version, carried in every assignment.")
    description: str | None = None
    review: ReviewQueue = Field(default_factory=lambda: ReviewQueue.model_validate({}))
    departments: list[str] = Field(
        default_factory=list,
        description="Known departments (委办局); when given, every department:<name> must be one of them.",
    )
    holidays: list[date] = Field(default_factory=list, description="Public holidays skipped by working days.")
    rules: list[Rule] = Field(min_length=1)

    def department_queues(self) -> frozenset[str]:
        """Queue ids of every department the catalogue knows (declared or named by a rule)."""
        named = {unit for rule in self.rules for unit in rule_units(rule) if unit.startswith(DEPARTMENT_PREFIX)}
        return frozenset(named | {DEPARTMENT_PREFIX + name for name in self.departments})

    def rule(self, rule_id: str | None) -> Rule | None:
        """The rule with ``rule_id``, or None."""
        return next((r for r in self.rules if r.id == rule_id), None)


def rule_units(rule: Rule) -> list[str]:
    """The lead and cooperating units a rule names."""
    return [rule.assign.lead, *rule.assign.cooperating]


def unknown_departments(rule: Rule, departments: Sequence[str]) -> list[str]:
    """Departments a rule names that the catalogue does not declare (none when it declares none)."""
    if not departments:
        return []
    known = set(departments)
    return [
        unit
        for unit in rule_units(rule)
        if unit.startswith(DEPARTMENT_PREFIX) and unit.removeprefix(DEPARTMENT_PREFIX) not in known
    ]


def parse_catalogue(document: Any) -> Catalogue:
    """A catalogue from a parsed YAML document; errors name the rule (index and id) and the field."""
    if not isinstance(document, dict):
        raise CatalogueError("the catalogue must be a mapping with 'version' and 'rules'")
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise CatalogueError("'rules' must be a non-empty list")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        where = f"rule #{index} (id {rule_id!r})"
        try:
            rule = Rule.model_validate(raw)
        except ValidationError as exc:
            raise CatalogueError(f"{where}: {_errors(exc)}") from None
        if rule.id in seen:
            raise CatalogueError(f"{where}: duplicate id, already used by rule #{seen[rule.id]}")
        seen[rule.id] = index
        rules.append(rule)
    departments = document.get("departments") or []
    if isinstance(departments, list):
        for index, rule in enumerate(rules):
            unknown = unknown_departments(rule, [str(d) for d in departments])
            if unknown:
                raise CatalogueError(
                    f"rule #{index} (id {rule.id!r}): unknown units {unknown}: not in the catalogue's departments"
                )
    for index, rule in enumerate(rules[:-1]):
        if rule.is_catch_all:
            raise CatalogueError(f"rule #{index} (id {rule.id!r}): matches everything, so the rules after it never do")
    try:
        return Catalogue.model_validate({**document, "rules": rules})
    except ValidationError as exc:
        raise CatalogueError(f"catalogue: {_errors(exc)}") from None


def load_catalogue(path: Path | str = DEFAULT_CATALOGUE_PATH) -> Catalogue:
    """Read and validate the catalogue at ``path`` (YAML)."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from None
    try:
        return parse_catalogue(document)
    except CatalogueError as exc:
        raise CatalogueError(f"{path}: {exc}") from None


def _errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
