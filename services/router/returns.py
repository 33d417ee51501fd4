"""What a return's reason (退单理由) says about who should take the case, pure.

A unit that returns a case usually says why: "这是交通委的事", "属于朝阳区", "不是我们辖区", "not our area,
it's the water company's". ``read_return_note`` finds in that text:

- the **units it names**: the catalogue's departments, by their own names (市交通委员会, 交通委员会, 交通委:
  the name, without 市/北京市, with 委员会 said 委) or by the colloquial and English names of
  ``COLLOQUIAL_UNITS`` (人社局, 城管, 自来水, "transport commission", "water company"), each of which stands
  for the catalogue department whose name contains a fragment (a city body first, then the shortest such
  name: 公安 → 市公安局, not its traffic bureau). A name right after a negation ("不是交通委的事", "not the police") is not a
  unit the case should go to;
- the **place it names** (a district, a street/town: "属于朝阳区", "应该是望京街道的"), with the gazetteer;
- whether it says **"not our area"** (不是我们辖区, 不在辖区, outside our area...): the place is wrong.

``services.router.cases.redispatch_after_return`` decides with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from shared.gazetteer import Gazetteer, Resolution
from shared.queues import DEPARTMENT_PREFIX

# Colloquial and English names of units -> a fragment of the catalogue department's official name, or
# fragments tried in order (城管, chengguan: the enforcement bureau where the catalogue has one, else the
# commission). Which department that is depends on the catalogue in force: a fragment no department
# contains names none.
COLLOQUIAL_UNITS: dict[str, str | tuple[str, ...]] = {
    # Chinese short names in everyday use
    "交通委": "交通委员会", "住建委": "住房和城乡建设", "住建": "住房和城乡建设", "规自委": "规划和自然资源",
    "规划局": "规划和自然资源", "城管委": "城市管理委员会", "城管": ("综合行政执法", "城市管理"),
    "城管执法": ("综合行政执法", "城市管理"), "执法局": "综合行政执法", "排水": "排水", "人社局": "人力资源和社会保障局",
    "人社": "人力资源和社会保障局", "劳动监察": "劳动保障监察", "交管局": "公安交通管理", "交管": "公安交通管理",
    "交警": "公安交通管理", "公安": "公安局", "派出所": "公安局", "警察": "公安局", "卫健委": "卫生健康",
    "卫生局": "卫生健康", "市场监管": "市场监督管理", "工商局": "市场监督管理", "发改委": "发展和改革",
    "经信局": "经济和信息化", "环保局": "生态环境", "环保": "生态环境", "园林局": "园林绿化", "绿化": "园林绿化",
    "水务局": "水务局", "教委": "教育委员会", "民政": "民政局", "文旅局": "文化和旅游", "文物局": "文物局",
    "药监局": "药品监督管理", "医保局": "医疗保障", "医保": "医疗保障", "消防": "消防", "公积金": "公积金",
    "自来水": "自来水", "供水公司": "自来水", "供电": "电力", "电力公司": "电力", "国网": "电力", "燃气公司": "燃气",
    "燃气集团": "燃气", "热力公司": "热力", "热力集团": "热力", "公交": "公交", "地铁": "地铁", "移动公司": "移动",
    "联通": "联通", "电信": "电信", "通管局": "通信管理", "邮政": "邮政", "税务": "税务", "司法局": "司法局",
    "退役军人": "退役军人", "农业农村局": "农业农村", "应急局": "应急管理", "气象局": "气象", "地震局": "地震",
    "商务局": "商务局", "体育局": "体育局", "财政局": "财政局", "国资委": "国有资产", "金融局": "金融",
    "知识产权局": "知识产权", "科委": "科学技术", "纪委": "纪委", "民宗委": "民族宗教", "政数局": "政务服务",
    # English
    "transport commission": "交通委员会", "transport": "交通委员会", "traffic police": "公安交通管理",
    "police": "公安局", "water company": "自来水", "water group": "自来水", "waterworks": "自来水",
    "water authority": "水务局", "water affairs": "水务局", "power company": "电力", "electricity company": "电力",
    "state grid": "电力", "power grid": "电力", "gas company": "燃气", "heating company": "热力",
    "bus company": "公交", "subway": "地铁", "metro": "地铁", "housing commission": "住房和城乡建设",
    "housing and construction": "住房和城乡建设", "urban management": "城市管理", "city management": "城市管理",
    "chengguan": ("综合行政执法", "城市管理"), "drainage": "排水", "sewage company": "排水", "market regulation": "市场监督管理", "market supervision": "市场监督管理",
    "health commission": "卫生健康", "education commission": "教育委员会", "civil affairs": "民政局",
    "human resources": "人力资源和社会保障局", "social security": "人力资源和社会保障局",
    "labour inspection": "劳动保障监察", "labor inspection": "劳动保障监察", "environment bureau": "生态环境",
    "ecology and environment": "生态环境", "planning": "规划和自然资源", "medical insurance": "医疗保障",
    "healthcare security": "医疗保障", "fire brigade": "消防", "fire department": "消防", "fire service": "消防",
    "provident fund": "公积金", "post office": "邮政", "postal": "邮政", "china mobile": "移动",
    "china unicom": "联通", "china telecom": "电信", "emergency management": "应急管理", "landscaping": "园林绿化",
    "forestry": "园林绿化", "agriculture": "农业农村", "tax bureau": "税务",
}  # fmt: skip

# "Not our area": the place the case was dispatched for is not the returning unit's.
NOT_OUR_AREA = (
    "不是我们辖区", "不属于我们辖区", "不属于本辖区", "非我辖区", "非本辖区", "不在我们辖区", "不在本辖区", "不在辖区",
    "辖区外", "不是本辖区", "不归我们辖区", "不是我们的辖区", "不是我街", "不是我镇", "不是我乡", "属地错误", "属地有误",
    "not our area", "outside our area", "not in our area", "not our district", "not in our jurisdiction",
    "outside our jurisdiction", "wrong area", "wrong district", "wrong street",
)  # fmt: skip
NEGATIONS = ("不是", "不属于", "不归", "并非", "非")
NEGATION_REACH = 4  # characters before a name (Chinese) in which a negation applies to it
LATIN_NEGATION = re.compile(r"\b(not|isn't|no|never)\s+(the\s+|a\s+|an\s+|for\s+the\s+)?$")
LATIN_NEGATION_REACH = 16


@dataclass(frozen=True)
class ReturnReading:
    """What a return's reason says: the departments it names (queue ids, in order), the place it names
    (None when none), whether it says the place is wrong, and the words that said so."""

    departments: list[str] = field(default_factory=list)
    place: Resolution | None = None
    not_our_area: bool = False
    said: list[str] = field(default_factory=list)


def department_forms(name: str) -> list[str]:
    """The ways a department's own name is said: 北京市交通委员会 → 北京市交通委员会, 交通委员会, 交通委."""
    forms = [name]
    bare = name
    for prefix in ("北京市", "北京", "市"):
        if bare.startswith(prefix) and len(bare) > len(prefix) + 1:
            bare = bare[len(prefix) :]
            break
    forms.append(bare)
    if bare.endswith("委员会"):
        forms.append(bare[: -len("委员会")] + "委")
    return [f for f in dict.fromkeys(forms) if len(f) >= 2]


@dataclass
class UnitNames:
    """Every name of the catalogue's departments a return's reason may say, longest first."""

    names: dict[str, str]  # said form (lowercase) -> department queue id
    ordered: list[str]

    @classmethod
    def of(cls, department_queues: Iterable[str]) -> UnitNames:
        departments = sorted(q[len(DEPARTMENT_PREFIX) :] for q in department_queues if q.startswith(DEPARTMENT_PREFIX))
        names: dict[str, str] = {}
        for department in departments:
            for form in department_forms(department):
                names.setdefault(form, DEPARTMENT_PREFIX + department)
        for said, fragments in COLLOQUIAL_UNITS.items():
            for fragment in (fragments,) if isinstance(fragments, str) else fragments:
                holders = [d for d in departments if fragment in d]
                if holders and said not in names:
                    # The city's own body first (市公安局, 北京市地铁运营… before 京港地铁), then the shortest name
                    # (市公安局 before its traffic bureau).
                    chosen = min(holders, key=lambda d: (not d.startswith(("市", "北京")), len(d), d))
                    names[said] = DEPARTMENT_PREFIX + chosen
                    break
        return cls(names, sorted(names, key=len, reverse=True))


@lru_cache(maxsize=8)
def unit_names_of(department_queues: frozenset[str]) -> UnitNames:
    """The unit names of a catalogue's departments (``Catalogue.department_queues()``), built once per set."""
    return UnitNames.of(department_queues)


def _negated(text: str, start: int) -> bool:
    if LATIN_NEGATION.search(text[max(0, start - LATIN_NEGATION_REACH) : start]):
        return True
    near = text[max(0, start - NEGATION_REACH) : start]
    return any(n in near for n in NEGATIONS)


def named_departments(note: str, names: UnitNames) -> tuple[list[str], list[str]]:
    """Department queues the note names (not negated), in the order said, and the words found."""
    text = note.lower()
    taken = [False] * len(text)
    found: list[tuple[int, str, str]] = []
    for said in names.ordered:  # longest first: 公安交通管理局 before 公安
        for match in re.finditer(re.escape(said), text):
            start, end = match.start(), match.end()
            if said.isascii() and not _word_bounded(text, start, end):
                continue
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
            if not _negated(text, start):
                found.append((start, said, names.names[said]))
    found.sort()
    queues = list(dict.fromkeys(queue for _, _, queue in found))
    return queues, [said for _, said, _ in found]


def _without_negated_places(note: str, gazetteer: Gazetteer) -> str:
    """The note with the places it denies blanked out ("不是海淀区的，属于朝阳区" → only 朝阳区 is said)."""
    text = note
    for start, name, _ in gazetteer.scan(note):
        if note[start : start + len(name)] == name and _negated(note.lower(), start):
            text = text[:start] + "，" * len(name) + text[start + len(name) :]
    return text


def _word_bounded(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())


def read_return_note(note: str | None, names: UnitNames, gazetteer: Gazetteer) -> ReturnReading:
    """What the reason of a return (退单) says about where the case should go."""
    if not note or not note.strip():
        return ReturnReading()
    departments, said = named_departments(note, names)
    lowered = note.lower()
    not_our_area = [phrase for phrase in NOT_OUR_AREA if phrase in lowered]
    place = gazetteer.resolve(_without_negated_places(note, gazetteer), None, None)
    named_place = place if place.district is not None else None
    if named_place is not None:
        said.append(named_place.street or named_place.district or "")
    return ReturnReading(departments, named_place, bool(not_our_area), [*said, *not_our_area])
