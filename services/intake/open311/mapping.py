"""What Open311 GeoReport v2 words mean in the Hotline: services from the taxonomy, the 每月一题 programme and
the dispatch catalogue; open/closed from the case lifecycle; agency_responsible from the lead unit.

Pure data and functions over the shipped reference data (``shared/``: taxonomy, 每月一题 problems, the
lexicon's words for keywords, the catalogue, the gazetteer): no network, no database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from shared.catalogue import Catalogue, load_catalogue
from shared.clock import as_utc
from shared.events import UnitKind
from shared.gazetteer import DEFAULT_GAZETTEER_PATH
from shared.lifecycle import OPEN_STATUSES, CaseStatus
from shared.queues import QueueId
from shared.reference import load_monthly_questions_document, load_synonyms_document, load_taxonomy, read_yaml

OPEN311_DATA_PATH = Path(__file__).resolve().parent / "data" / "services.yaml"

ServiceType = Literal["realtime", "batch"]
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
MQ_PREFIX = "mq-"
OTHER = "其他"
MAX_KEYWORDS = 12

# ---- lifecycle -> Open311 status ---------------------------------------------------------------------

CLOSED_STATUSES: frozenset[CaseStatus] = frozenset(
    {CaseStatus.resolved, CaseStatus.called_back, CaseStatus.closed, CaseStatus.linked}
)
"""Open311 ``closed`` ("it has been resolved"): 办结, 回访, 结案, and a duplicate merged into another request.
Every other status (派单, 签收, 响应, 退单) is ``open``; a reopened case is ``open`` again."""

STATUS_WORDS: dict[str, str] = {
    CaseStatus.dispatched: "已派单 · Dispatched",
    CaseStatus.accepted: "已签收 · Accepted by the unit",
    CaseStatus.responded: "已响应 · The unit has contacted the citizen",
    CaseStatus.returned: "已退单，重新派单中 · Returned, being dispatched again",
    CaseStatus.resolved: "已办结 · Resolved by the unit",
    CaseStatus.called_back: "已回访 · The citizen was called back",
    CaseStatus.closed: "已结案 · Closed",
    CaseStatus.linked: "重复诉求，已合并 · Duplicate request, merged",
}
CALLBACK_WORDS = {
    "satisfied": "满意 · satisfied",
    "basically_satisfied": "基本满意 · basically satisfied",
    "dissatisfied": "不满意 · dissatisfied",
    "unreachable": "联系不上 · unreachable",
}


def open311_status(case_status: str) -> Literal["open", "closed"]:
    """``closed`` for 办结, 回访, 结案 and merged duplicates; ``open`` otherwise."""
    return "closed" if case_status in CLOSED_STATUSES else "open"


def case_statuses(open311: str) -> list[str]:
    """The lifecycle statuses one Open311 status stands for."""
    chosen = CLOSED_STATUSES if open311 == "closed" else OPEN_STATUSES
    return sorted(str(status) for status in chosen)


# ---- data files -------------------------------------------------------------------------------------


@lru_cache
def load_yaml(path: Path) -> Any:
    return read_yaml(path.read_text(encoding="utf-8")) or {}


@lru_cache
def load_divisions(
    path: Path = DEFAULT_GAZETTEER_PATH,
) -> tuple[dict[str, tuple[str, str | None]], dict[tuple[str, str | None], str]]:
    """Administrative division codes (address_id): code -> (district, street or None), and the reverse."""
    by_code: dict[str, tuple[str, str | None]] = {}
    for district in json.loads(path.read_text(encoding="utf-8"))["districts"]:
        by_code[str(district["code"])] = (district["name"], None)
        for street in district["streets"]:
            by_code[str(street["code"])] = (district["name"], street["name"])
    return by_code, {place: code for code, place in by_code.items()}


# ---- services -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    """One extra question of a service definition."""

    code: str
    datatype: str
    required: bool
    order: int
    description: str
    datatype_description: str = ""
    values: tuple[tuple[str, str], ...] = ()
    variable: bool = True


@dataclass(frozen=True)
class Service:
    """An Open311 service: a taxonomy node or a 每月一题 problem."""

    code: str
    name: str
    description: str
    group: str
    keywords: tuple[str, ...]
    category: str
    subcategory: str | None = None
    issue: str | None = None
    attributes: tuple[Attribute, ...] = ()

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)


@dataclass(frozen=True)
class ServiceCatalogue:
    """Every service, by code, in list order."""

    services: tuple[Service, ...]
    by_code: dict[str, Service] = field(default_factory=dict)
    level_codes: dict[tuple[str, str | None], str] = field(default_factory=dict)

    def get(self, code: str) -> Service | None:
        return self.by_code.get(code)

    def code_for(self, category: str | None, subcategory: str | None, issue: str | None) -> str | None:
        """The service a classification belongs to: its 每月一题 problem, else its level 2, else its level 1."""
        if issue and MQ_PREFIX + issue in self.by_code:
            return MQ_PREFIX + issue
        if category is None:
            return None
        return self.level_codes.get((category, subcategory)) or self.level_codes.get((category, None))


def _dispatch_words(catalogue: Catalogue, category: str, subcategory: str | None, issue: str | None) -> str:
    """Who the dispatch catalogue's first plain rule for this service names as lead unit, in words."""
    for rule in catalogue.rules:
        match = rule.match
        if match.keywords or match.channels or match.is_timed or match.districts or match.streets:
            continue
        if issue is not None:
            fits = issue in match.issues
        else:
            fits = (
                category in match.categories
                and not match.issues
                and (not match.subcategories or subcategory in match.subcategories)
            )
        if fits:
            return _lead_words(rule.assign.lead)
    return "按派单目录派至属地或主管单位 · dispatched by the catalogue to the local or responsible unit"


def _lead_words(lead: str) -> str:
    queue = QueueId.try_parse(lead)
    if queue is not None and queue.kind is UnitKind.department:
        return queue.body
    return {
        "street": "问题所在的街乡镇 · the street/town where the problem is (直派)",
        "district": "所在区的12345分中心 · the district sub-centre",
        "manual": "12345热线人工派单 · the hotline's dispatchers",
    }.get(lead, lead)


def _item_attribute(items: Sequence[str], spec: Mapping[str, str]) -> Attribute:
    return Attribute(
        code=spec["code"],
        datatype="singlevaluelist",
        required=False,
        order=1,
        description=spec["description"],
        datatype_description=spec.get("datatype_description", ""),
        values=tuple((item, item) for item in items),
    )


def _question_attributes(questions: Sequence[Mapping[str, Any]]) -> tuple[Attribute, ...]:
    attributes = []
    for order, question in enumerate(questions, start=1):
        datatype = str(question["datatype"])
        if datatype not in DATATYPES:
            raise ValueError(f"attribute {question['code']}: unknown datatype {datatype!r}")
        values = tuple((str(k), str(v)) for k, v in (question.get("values") or {}).items())
        attributes.append(
            Attribute(
                code=str(question["code"]),
                datatype=datatype,
                required=bool(question.get("required", False)),
                order=order,
                description=str(question["description"]),
                datatype_description=str(question.get("datatype_description", "")),
                values=values,
            )
        )
    return tuple(attributes)


def _keywords(*groups: Sequence[str]) -> tuple[str, ...]:
    words: list[str] = []
    for group in groups:
        words += [w for w in group if w and w != OTHER and w not in words]
    return tuple(words[:MAX_KEYWORDS])


@dataclass
class _Built:
    """The services last built, and the catalogue (object) they were built from."""

    catalogue: Catalogue | None = None
    services: ServiceCatalogue | None = None


_built = _Built()


@lru_cache(maxsize=1)
def _shipped_catalogue() -> Catalogue:
    return load_catalogue()


def service_catalogue(catalogue: Catalogue | None = None) -> ServiceCatalogue:
    """The services: level-1 categories (NN), level-2 categories (NN-MM) and 每月一题 problems (mq-<id>),
    with ``catalogue`` (default: the shipped one) naming who handles each; rebuilt when it is another one
    (the intake's catalogue watcher hands over a new object when the file changed)."""
    the_catalogue = catalogue or _shipped_catalogue()
    if _built.catalogue is not the_catalogue or _built.services is None:
        _built.services, _built.catalogue = build_services(the_catalogue), the_catalogue
    return _built.services


def build_services(catalogue: Catalogue) -> ServiceCatalogue:
    """Every Open311 service, built from the taxonomy, the 每月一题 problems and ``catalogue``."""
    tree = load_taxonomy()
    own = load_yaml(OPEN311_DATA_PATH)
    synonyms: Mapping[str, Sequence[str]] = load_synonyms_document()
    english: Mapping[str, str] = own.get("groups") or {}
    services: list[Service] = []
    level_codes: dict[tuple[str, str | None], str] = {}

    def group_of(level1: str) -> str:
        return f"{level1} · {english[level1]}" if level1 in english else level1

    for i, (level1, branch) in enumerate(tree.items(), start=1):
        code = f"{i:02d}"
        level_codes[(level1, None)] = code
        services.append(
            Service(
                code=code,
                name=f"{group_of(level1)}（综合 · general）",
                description=f"{level1}方面、不属于以下各小类的诉求 · Requests about {english.get(level1, level1)} that "
                f"fit none of its subcategories. 派单 dispatch: {_dispatch_words(catalogue, level1, None, None)}",
                group=group_of(level1),
                keywords=_keywords([level1], list(branch)),
                category=level1,
            )
        )
        for j, (level2, items) in enumerate(branch.items(), start=1):
            sub_code = f"{code}-{j:02d}"
            level_codes[(level1, level2)] = sub_code
            named_items = [item for item in items if item != OTHER]
            words = list(synonyms.get(f"{level1}/{level2}") or [])
            for item in items:
                words += list(synonyms.get(f"{level1}/{level2}/{item}") or [])
            services.append(
                Service(
                    code=sub_code,
                    name=f"{level2}（{level1}）" if level2 == OTHER else level2,
                    description=f"{level1} › {level2}"
                    + (f"：{'、'.join(named_items)}" if named_items else "")
                    + f"。派单 dispatch: {_dispatch_words(catalogue, level1, level2, None)}",
                    group=group_of(level1),
                    keywords=_keywords(named_items, words),
                    category=level1,
                    subcategory=level2,
                    attributes=(_item_attribute(items, own["item_attribute"]),) if named_items else (),
                )
            )
    questions: Mapping[str, Sequence[Mapping[str, Any]]] = own.get("questions") or {}
    for problem in load_monthly_questions_document()["problems"]:
        name = problem.get("name") or {}
        keywords = problem.get("keywords") or {}
        services.append(
            Service(
                code=MQ_PREFIX + str(problem["id"]),
                name=f"每月一题 {name.get('zh', problem['id'])} · {name.get('en', '')}".rstrip(" ·"),
                description=f"每月一题 (Monthly Question) 重点问题：{name.get('zh', '')}。"
                f"派单 dispatch: {_dispatch_words(catalogue, problem['category'], None, str(problem['id']))}",
                group=group_of(str(problem["category"])),
                keywords=_keywords(list(keywords.get("zh") or []), list(keywords.get("en") or [])),
                category=str(problem["category"]),
                subcategory=problem.get("subcategory"),
                issue=str(problem["id"]),
                attributes=_question_attributes(questions.get(str(problem["id"])) or ()),
            )
        )
    return ServiceCatalogue(tuple(services), {s.code: s for s in services}, level_codes)


# ---- a case as an Open311 request ---------------------------------------------------------------------


def w3(moment: Any) -> str | None:
    """A datetime (or its ISO text) in the W3C profile of ISO 8601, UTC with Z."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _applied_steps(case: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [step for step in case.get("history") or () if step.get("outcome", "applied") == "applied"]


def status_notes(case: Mapping[str, Any]) -> str:
    """Why the request stands where it does: the status in words, the lead unit, the handling result."""
    status = str(case.get("status"))
    words = STATUS_WORDS.get(status, status)
    assignment = case.get("assignment") or {}
    if status == CaseStatus.linked and case.get("linked_to"):
        return f"{words}: {case['linked_to']}"
    if status in (CaseStatus.dispatched, CaseStatus.accepted) and assignment.get("unit_name"):
        words = f"{words}: {assignment['unit_name']}"
    steps = _applied_steps(case)
    if status in CLOSED_STATUSES:
        result = next((s.get("note") for s in reversed(steps) if s.get("kind") == "resolved" and s.get("note")), None)
        if result:
            words = f"{words}. 办理结果 result: {result}"
        callback = next((s.get("callback_result") for s in reversed(steps) if s.get("callback_result")), None)
        if callback:
            words = f"{words}. 回访 callback: {CALLBACK_WORDS.get(callback, callback)}"
    return words


def agency_responsible(case: Mapping[str, Any]) -> str | None:
    """The lead unit's name (街乡镇, 委办局, 区分中心, or the hotline's dispatchers)."""
    assignment = case.get("assignment") or {}
    return assignment.get("unit_name") or case.get("queue_id")


def updated_at(case: Mapping[str, Any]) -> Any:
    """When the request last changed: its last applied step, else when it was routed."""
    steps = _applied_steps(case)
    return steps[-1].get("at") if steps else case.get("stored_at") or case.get("routed_at")


def request_view(case: Mapping[str, Any], services: ServiceCatalogue) -> dict[str, Any]:
    """The Open311 ``request`` of a stored case, in the standard's field order; never the citizen's contact."""
    call = case.get("call") or {}
    location = call.get("location") or {}
    classification = case.get("classification") or {}
    assignment = case.get("assignment") or {}
    code = services.code_for(
        classification.get("category"), classification.get("subcategory"), classification.get("issue")
    )
    service = services.get(code) if code else None
    status = open311_status(str(case.get("status")))
    district = assignment.get("district") or location.get("district")
    street = assignment.get("street") or location.get("street")
    _, codes = load_divisions()
    address_id = codes.get((district, street)) or codes.get((district, None)) if district else None
    address = location.get("address") or ("，".join(p for p in (street, district) if p) or None)
    notice = None
    if status == "open" and assignment.get("response_due_at"):
        notice = f"接诉即办：{w3(assignment['response_due_at'])} 前响应 · The unit will contact you by this time"
    return {
        "service_request_id": str(case["call_id"]),
        "status": status,
        "status_notes": status_notes(case),
        "service_name": service.name if service else None,
        "service_code": code,
        "description": (call.get("body") or "")[:4000] or None,
        "agency_responsible": agency_responsible(case),
        "service_notice": notice,
        "requested_datetime": w3(case.get("received_at")),
        "updated_datetime": w3(updated_at(case)),
        "expected_datetime": w3(assignment.get("resolution_due_at")),
        "address": address,
        "address_id": address_id,
        "zipcode": None,
        "lat": location.get("lat"),
        "long": location.get("lon"),
        "media_url": call.get("media_url"),
    }
