"""The dispatch catalogue (派单目录): ordered rules, first match wins, loaded from YAML and validated.

The file format is shared: the router routes with it, intake checks a supervisor's dispatch and whistle
against its departments, the console offers them, ``hotline catalogue`` checks a file. Which rule a call
takes and which unit leads is the router's (``services/router/routing.py``); a rule's own tests of the words
and the time (``Match.words_match``, ``Match.holds_at``, with the ``now_only`` markers) sit on the model here
and only the router calls them.

Size: ~590 lines — the rule model validates itself against the reference data (taxonomy, 每月一题 ids,
departments, the gazetteer's streets) and a rule's error must name its id; ``words_match``, ``holds_at`` and
the helpers under them (markers, ``near``, ``any_of``, ``in_window``) are the router's alone and the part to
move beside it next.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import ahocorasick  # type: ignore[import-untyped]
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from shared.events import Channel
from shared.gazetteer import Gazetteer, load_gazetteer
from shared.queues import DEPARTMENT_PREFIX, QueueId, is_urgent, qualified_street, split_qualified_street
from shared.reference import LEVEL1_CATEGORIES, LEVEL3_ITEMS, MONTHLY_QUESTION_IDS, read_yaml

DEFAULT_CATALOGUE_PATH = Path(__file__).parent / "data" / "catalogue.yaml"

_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_HOURS = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class CatalogueError(ValueError):
    """The catalogue file is not valid; the message names the rule (index and id) and the field."""


def _check_unit(value: str, *, allowed: tuple[str, ...], what: str) -> str:
    if value in allowed:
        return value
    if value.startswith(DEPARTMENT_PREFIX) and value[len(DEPARTMENT_PREFIX) :].strip():
        QueueId.parse(value)  # a department unit is its queue id: 'department:<name>', no blanks around the name
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
    items: list[str] = Field(
        default_factory=list,
        description="Level-3 item names: the unit that owns an item (自来水供应 -> the water company) when no more "
        "specific rule took the call.",
    )
    issues: list[str] = Field(default_factory=list, description="Monthly-Question problem ids.")
    keywords: list[str] = Field(
        default_factory=list, description="Any of these in the subject or body (letters compared in lower case)."
    )
    and_keywords: list[str] = Field(
        default_factory=list,
        description="And also any of these (with keywords: a word of each list must be in the text, e.g. 燃气 and 漏).",
    )
    unless: list[str] = Field(
        default_factory=list,
        description="None of these in the subject or body (lower case compared): '隐患' keeps a fire-hazard report "
        "out of the fire rule.",
    )
    background: list[str] = Field(
        default_factory=list,
        description="Phrases said as background, looked past before the keywords are sought: '农村户口' in a pension "
        "question is who asks, not a 户口 matter; unlike ``unless``, another keyword in the call still takes it "
        "('我是北京户口，孩子落户…').",
    )
    within: int | None = Field(
        None,
        ge=1,
        le=200,
        description="With keywords and and_keywords: a word of each list within this many characters of each "
        "other (one breath: '灶台那块儿滋滋的好像漏了', not a gas bill in one sentence and a dripping tap in the next).",
    )
    now_only: bool = Field(
        False,
        description="Not when the call tells only of a past or resolved event, or denies the danger "
        "('上个月漏过气，现在修好了', '没人被关过'), unless it also says the danger is here now ('又', '还在', '正在').",
    )
    skip_landmarks: bool = Field(
        False,
        description="A keyword said as a landmark does not count ('医院旁边的停车场' is about a car park, '地铁口附近摆摊' "
        "about vending, 'near the hospital'): for rules naming a unit by what it runs (医院, 学校, 地铁).",
    )
    requires_urgency: bool = Field(
        False,
        description="Only for a call already judged urgent without a life-or-safety rule's words (the learned "
        "urgency scorer flagged it, and it tells of no past or denied danger): such a rule picks the unit that acts "
        "now by weaker words ('心口疼' -> 120, '往下沉' -> 119), instead of 人工分拣 or an everyday unit.",
    )
    channels: list[Channel] = Field(default_factory=list, description="Channels the call came through.")
    _patterns: dict[str, re.Pattern[str]] = PrivateAttr(default_factory=dict)
    requires_street: bool = Field(False, description="Only when the street/town was resolved.")
    requires_district: bool = Field(False, description="Only when at least the district was resolved.")
    districts: list[str] = Field(default_factory=list, description="Gazetteer district names the call is in.")
    streets: list[str] = Field(
        default_factory=list,
        description="Streets/towns the call is in: '区/街乡镇' or a bare name unique in the city (stored qualified).",
    )
    hours: str | None = Field(
        None, description="'HH:MM-HH:MM' of local received time, start included, end excluded; may wrap midnight."
    )
    weekdays: list[Weekday] = Field(
        default_factory=list, description="Local weekdays (mon..sun); a window past midnight counts from its start day."
    )

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in LEVEL1_CATEGORIES]
        if unknown:
            raise ValueError(f"unknown level-1 categories {unknown}; known: {sorted(LEVEL1_CATEGORIES)}")
        return value

    @field_validator("items")
    @classmethod
    def _known_items(cls, value: list[str]) -> list[str]:
        unknown = [i for i in value if i not in LEVEL3_ITEMS or i == "其他"]
        if unknown:
            raise ValueError(f"unknown level-3 items {unknown} (names of the taxonomy's level 3, not '其他')")
        return value

    @field_validator("issues")
    @classmethod
    def _known_issues(cls, value: list[str]) -> list[str]:
        unknown = [i for i in value if i not in MONTHLY_QUESTION_IDS]
        if unknown:
            raise ValueError(f"unknown issue ids {unknown}; known: {sorted(MONTHLY_QUESTION_IDS)}")
        return value

    @field_validator("subcategories", "keywords", "and_keywords", "unless", "background", "districts", "streets")
    @classmethod
    def _no_blank_terms(cls, value: list[str]) -> list[str]:
        if any(not term.strip() for term in value):
            raise ValueError("blank entries are not allowed")
        return value

    @field_validator("keywords", "and_keywords", "unless", "background")
    @classmethod
    def _lower_case_keywords(cls, value: list[str]) -> list[str]:
        # English cues match whatever the citizen's capitals: keywords and the call's text are compared lowered.
        return [term.lower() for term in value]

    @field_validator("keywords", "and_keywords")
    @classmethod
    def _no_blanking_comma(cls, value: list[str]) -> list[str]:
        # Background phrases and suppositions are blanked to '，' before the keywords are looked for: a keyword holding
        # one could then appear where the text had none, and words_match's one-pass test of presence would be wrong.
        bad = [term for term in value if "，" in term]
        if bad:
            raise ValueError(f"keywords may not hold the full-width comma '，': {bad}")
        return value

    @field_validator("streets")
    @classmethod
    def _street_syntax(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if s.count("/") > 1 or s.startswith("/") or s.endswith("/")]
        if bad:
            raise ValueError(f"bad streets {bad}: expected '区/街乡镇' or a bare street/town name")
        return value

    @field_validator("hours")
    @classmethod
    def _hours_syntax(cls, value: str | None) -> str | None:
        if value is not None:
            parse_hours(value)
        return value

    def _pattern(self, field: Literal["keywords", "and_keywords", "unless", "background"]) -> re.Pattern[str]:
        """The compiled alternation of a word list, built once per rule."""
        cache = self.__pydantic_private__ or {}  # the private attributes' own dict: no __getattr__ on the hot path
        patterns = cache.get("_patterns")
        if patterns is None:
            return any_of(getattr(self, field))
        pattern = patterns.get(field)
        if pattern is None:
            pattern = patterns[field] = any_of(getattr(self, field))
        return pattern  # type: ignore[no-any-return]

    @model_validator(mode="after")
    def _within_needs_both_lists(self) -> Match:
        if self.within is not None and not (self.keywords and self.and_keywords):
            raise ValueError("within needs both keywords and and_keywords (the two words it keeps close)")
        return self

    def words_match(self, text: str, present: frozenset[str] | None = None) -> bool:
        """Whether the keyword conditions hold for ``text`` (lower-cased subject and body): no ``unless`` word,
        a keyword, an and-keyword (within ``within`` characters of a keyword when given), and for a
        ``now_only`` rule a danger told as present.

        ``present``: the catalogue's words found in ``text`` (``Catalogue.words_in``, one pass for all rules). The
        ``unless`` words are then looked up in it, and a rule with no keyword (or no and-keyword) in it fails with no
        scan of the text. That test is exact for the whole text and a necessary one for a rule that first blanks its
        background phrases or suppositions: those are replaced by '，', which no keyword holds, so a word absent from
        the text is absent after them too. Only the rules that passed it and read more than presence (near, landmark,
        past) go on to the scans below."""
        if present is not None:
            if (
                (self.unless and not present.isdisjoint(self.unless))
                or (self.keywords and present.isdisjoint(self.keywords))
                or (self.and_keywords and present.isdisjoint(self.and_keywords))
            ):
                return False
            if not (self.background or self.now_only or self.skip_landmarks or self.within is not None):
                return True
        elif self.unless and self._pattern("unless").search(text):
            return False
        if self.background:
            text = self._pattern("background").sub("，", text)
        if self.now_only:
            text = without_hypotheticals(text)
        if self.keywords and self.and_keywords and self.within is not None:
            # Each list's one compiled scan first (in C): most texts hold neither, and near() walks both in Python.
            if not (
                self._pattern("and_keywords").search(text)
                and self._pattern("keywords").search(text)
                and near(text, self.keywords, self.and_keywords, self.within)
            ):
                return False
        else:
            if self.and_keywords and not self._pattern("and_keywords").search(text):
                return False
            if self.keywords and not self._pattern("keywords").search(text):
                return False
            if self.keywords and self.skip_landmarks and not named_not_as_landmark(text, self._pattern("keywords")):
                return False
        return not (self.now_only and tells_of_the_past(text))

    @property
    def uses_classification(self) -> bool:
        """Whether the rule needs the classifier's answer (a category, subcategory or Monthly Question)."""
        return bool(self.categories or self.subcategories or self.items or self.issues)

    @property
    def is_timed(self) -> bool:
        """Whether the rule holds only at some times (hours or weekdays)."""
        return self.hours is not None or bool(self.weekdays)

    def holds_at(self, local: datetime) -> bool:
        """Whether ``local`` (the call's received time in the city's zone) is inside the hours and weekdays."""
        return in_window(self.hours, tuple(self.weekdays), local.weekday(), local.hour * 60 + local.minute)


PAST_MARKERS = tuple(
    "修好了|修好|修复了|已修复|已经修|处理完|处理好了|已处理|解决了|已解决|已经好了|没事了|上个月|上周|上星期|"
    "去年|前年|以前|曾经|过一次|那次|有结果|已经灭了|扑灭了|火灭了|填上了|补上了|堵上了|盖上了|已经出院|出院了|"
    "已经关了|关好了|关掉了|上礼拜|上个礼拜|前两天|前几天|来过了|处理过了|放出来了|救出来了|"
    "last month|last week|last year|last monday|last tuesday|last wednesday|last thursday|last friday|"
    "last saturday|last sunday|"
    "was fixed|been fixed|fixed now|fixed it|was repaired|repaired it|used to".split("|")
)
"""Words telling of a danger that is over: a past time or a resolution ('上个月漏过气，现在修好了', '总阀已经关了'),
responders who already came ('派出所来过了', '后来物业叫人放出来了', 'the gas company came and fixed it')."""

EARLIER_MARKERS = tuple(
    "上次|上回|早走了|已经走了|人没事|我没事|人都没事|大家都没事|"
    "上午的事|下午的事|早上的事|昨天的事|昨晚的事|前天的事|的事了|i'm ok|i am ok|i'm fine|nobody's hurt".split("|")
)
"""Words placing the danger earlier or saying the caller came out unhurt ('打架是上午的事，人早走了', '上次困过人以后',
'我人没事，就是车被剐了'): over unless it is back (RECURRENCE_MARKERS); a standing state ('一直不给立案') does not
bring it back."""

EXPERIENCED = re.compile(r"(?:困|关|着|漏|淹|塌|砸|烧|炸|摔|掉)过(?:人|火|气|水|一次|两次|几次|好几次)")
"""A danger told in the experiential aspect ('困过人', '着过火', '漏过气'): it happened before, not now."""

STANDING_MARKERS = tuple(
    "隐患|长年|常年|多年|几年|经常|时常|老是|屡次|多次反映|多次反馈|迟迟|安全检查|hazard|"
    "好几个月|几个月了|个多月|半年了|一年多|三天两头|每天晚上|每天|天天|每晚|每次|总是|"
    "每个周末|每周末|每到周末|一到周末|每逢|一到晚上|一到夜里|一到半夜|有时候|有时还|时不时|隔三差五|"
    "for years|for months|often|every time|every day|every night|every weekend".split("|")
)
"""Words of a standing problem reported, not a danger happening now ('电梯经常坏', '存在安全隐患'), a duration
('好几个月了') or a habit ('每天晚上偷偷烧东西', '三天两头停', '每个周末都有人打架', '一到夜里就排烟'): handled as a normal
call unless the text also says the danger is here now."""

DENIAL_MARKERS = tuple(
    "没人被|没有人被|无人被|没被困|没有被困|nobody was|no one was|nobody is|no one is|nobody got hurt|"
    "no one got hurt|nobody hurt|no one hurt|false alarm|not in danger|not in any danger|not on fire|not a fire|"
    "not a gas leak|no gas leak|isn't on fire|wasn't a fire|was put out|been put out".split("|")
)
"""Words denying the danger itself ('没人被关过'): never urgent, whatever else is said."""

NEGATED_DANGER = re.compile(
    r"(?<![是会能])(?:不是|并不是|并没有|并没|没有|没)(?:什么|有人|人|被|想|要)?"
    r"(?:着火|起火|失火|火灾|漏气|漏煤气|漏燃气|泄漏|泄露|想不开|轻生|寻短见|自杀|寻死|受伤|伤着|伤到|被困|困住|急事)"
)
"""A danger named only to be denied ('不是着火啊', '我没有想不开', '查了说没漏气', '不是什么急事', '别担心…'): never
urgent. A question ('是不是着火了', '会不会漏气') is not a denial: the negation right after 是/会/能 is skipped."""

PRESENT_MARKERS = tuple(
    "又|还在|正在|一直|刚才|刚刚|现在还|越来越|赶紧|快来|救命|马上|立刻|此刻|这会儿|今天|今早|今晚|"
    "right now|just now|today|tonight|still|again|currently|help".split("|")
)
"""Words saying the danger is here now, which outweigh the past markers ('上次修好了，今天又漏了')."""


NOT_A_RECURRENCE = ("一直", "越来越", "赶紧", "still", "currently")
"""Present markers that say a state goes on or a hurry ('一直停着', '越来越'), not that a danger is back."""

RECURRENCE_MARKERS = tuple(marker for marker in PRESENT_MARKERS if marker not in NOT_A_RECURRENCE)
"""Words saying an experienced danger is back now ('上次困过人，今天又困了'): the present markers but
NOT_A_RECURRENCE."""


QUIET_NOW = re.compile(
    r"(?:现在|目前|这会儿|今天|今晚|眼下)(?:倒是|倒)(?:没事|没什么事|没动静|没什么动静)"
    r"|(?:没|没有|没什么|闻不到|不怎么)(?:味|味儿|味道|气味)了|(?:味|味道|气味|烟)(?:已经|都|也)?散了|不漏了|不流了|不冒烟了"
)
"""The danger's sign said to be gone now ('现在没味了', '好像没什么味了', '今天倒是没事', '不漏了'): over, and its 现在/今天 is
no present marker."""

DAY_WORDS = ("今天", "今早", "今晚", "today", "tonight")
"""Present markers that only name the day: after QUIET_NOW they may be a repair's appointment ('说等今天来人换管子'), not
the danger."""

QUIET_REVIVED = (*(marker for marker in PRESENT_MARKERS if marker not in DAY_WORDS), "还有")
"""Words that outweigh QUIET_NOW: the danger is back, goes on or calls for help now ('现在没味了，可又闻到了', '还在漏',
'快来'), the present markers but the day words."""


RESUMED_HABIT = re.compile(r"(?:这几天|这两天|最近|近来|这阵子|这段时间|这些天)(?:又|还|就)?(?:开始|恢复)")
"""A habit taken up again ('上个月停了，这几天又开始了'): a standing complaint, not a danger back now (its 又 is no
present marker)."""

EARLIER_DAY = re.compile(
    r"(?<![从到])(?:昨天|前天|昨晚|前晚)(?![^，。,.!?！？;；\n]{0,6}(?:开始|一直|至今|以来|到现在|到今天))"
    r"[^\n]*?(?:后来|第二天|隔天)"
)
"""A day before today named for when it happened, and what came after told ('前天晚上大风，树折了…第二天一早园林的人就来给锯
走了', '昨天楼上水管爆了…后来物业把总阀关了'): over unless a present marker says otherwise (PRESENT_MARKERS: '后来越来越大').
A day word alone is not ('昨晚生了炉子，早上起来都头晕' is now), nor a danger that began then and goes on ('从昨天开始',
'昨天晚上开始漏', '昨天到现在')."""

UNTIL_NOW = re.compile(r"(?:到今天|到现在|至今)(?:为止)?(?:也|都|还)?(?=是|没|不|未)")
"""'Not done to this day', 'still the same' ('到今天也没修', '到现在还是三天两头停'): a standing complaint, not a danger
back today (its 今天 and 现在还 are not present markers); '到现在还在漏' keeps them."""


def tells_of_the_past(text: str) -> bool:
    """Whether a (lower-cased) call tells of a danger that is over, denied or a standing problem rather than one
    happening now."""
    if any(marker in text for marker in DENIAL_MARKERS) or NEGATED_DANGER.search(text):
        return True
    if QUIET_NOW.search(text):
        rest = QUIET_NOW.sub("，", text)
        if not any(marker in rest for marker in QUIET_REVIVED):
            return True
        text = rest
    now_text = RESUMED_HABIT.sub("", UNTIL_NOW.sub("", text))
    over = (
        any(marker in text for marker in PAST_MARKERS)
        or any(marker in text for marker in STANDING_MARKERS)
        or RESUMED_HABIT.search(text) is not None
        or EARLIER_DAY.search(text) is not None
    )
    if over and not any(marker in now_text for marker in PRESENT_MARKERS):
        return True
    experienced = EXPERIENCED.search(text) is not None or any(marker in text for marker in EARLIER_MARKERS)
    return experienced and not any(marker in now_text for marker in RECURRENCE_MARKERS)


HYPOTHETICAL = re.compile(
    r"(?:万一|如果|(?<![主需只就不还])要是|假如|假设|一旦|哪天|以免|免得|if there|if a |if the |if it |in case)"
    r"[^，。,.!?！？;；\n]{0,15}"
    r"|(?:真|再)[^，。,.!?！？;；\n]{0,10}怎么办"
)
"""A danger said as a supposition ('真着火了怎么办', '万一漏气', '要是塌了砸着人', 'in case of a fire'): the clause is not
a danger happening now."""


@lru_cache(maxsize=64)
def without_hypotheticals(text: str) -> str:
    """``text`` without its suppositions (``HYPOTHETICAL``): what a life-or-safety rule's words are looked for in."""
    return HYPOTHETICAL.sub("，", text)


LANDMARK_AFTER = re.compile(
    r"(?:[站口的大院楼馆场]{0,2}|站?(?:[a-z0-9]{1,2}|[东南西北])口)"
    r"(?:旁边|旁的|旁|附近|周边|周围|斜对面|对面|门口|边上|隔壁|后面|后边|前面|外面|外边|那边|这边|出来|出去"
    r"|(?:也|就)在(?:那儿|那里|那边|下面|底下|旁边))"
)
LANDMARK_BEFORE = re.compile(r"(?:near|next to|outside|opposite|behind|across from|beside) (?:the |a |our |my )?$")
"""A word said as where something is, not what it is about: '医院旁边的停车场', '地铁口附近', '地铁站C口出来', '底下就是
马路，公交站也在那儿', 'near the hospital'."""


DESTINATION_BEFORE = re.compile(r"(?:去|到|上)[^，。,.!?！？;；\s去到]{0,3}$")
DESTINATION_AFTER = re.compile(r"(?:看病|看了|检查|一查|查了|说是|说|拍片|输液|打针|挂水)")
"""A word said as where someone went for something else ('老人去镇上医院看病，去了就回不来' is about a bus, '去医院说是
急性肠胃炎' about a restaurant): a destination, not what the call is about."""


def named_not_as_landmark(text: str, pattern: re.Pattern[str]) -> bool:
    """Whether a word of ``pattern`` is in ``text`` other than as a landmark (``LANDMARK_AFTER``/``_BEFORE``) or a
    destination (``DESTINATION_BEFORE`` and ``_AFTER``)."""
    for found in pattern.finditer(text):
        if LANDMARK_AFTER.match(text, found.end()):
            continue
        if DESTINATION_AFTER.match(text, found.end()) and DESTINATION_BEFORE.search(
            text[max(0, found.start() - 6) : found.start()]
        ):
            continue
        if LANDMARK_BEFORE.search(text[max(0, found.start() - 20) : found.start()]):
            continue
        return True
    return False


def any_of(terms: Sequence[str]) -> re.Pattern[str]:
    """One compiled alternation of ``terms`` (cached per list): a scan in C instead of a Python loop per term."""
    return _alternation(tuple(terms))


@lru_cache(maxsize=4096)
def _alternation(terms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True)))


def near(text: str, first: Sequence[str], second: Sequence[str], window: int) -> bool:
    """Whether a word of ``first`` has a word of ``second`` within ``window`` characters either side of it."""
    present = [other for other in second if other in text]
    if not present:
        return False
    for term in first:
        start = text.find(term)
        while start >= 0:
            around = text[max(0, start - window) : start + len(term) + window]
            if any(other in around for other in present):
                return True
            start = text.find(term, start + 1)
    return False


@lru_cache(maxsize=256)
def parse_hours(value: str) -> tuple[int, int]:
    """Start and end minute of day of an 'HH:MM-HH:MM' window (end 24:00 allowed; start == end is not)."""
    found = _HOURS.match(value.strip())
    if not found:
        raise ValueError(f"bad hours {value!r}: expected 'HH:MM-HH:MM', e.g. '22:00-06:00'")
    start = int(found[1]) * 60 + int(found[2])
    end = int(found[3]) * 60 + int(found[4])
    if end > MINUTES_PER_DAY:
        raise ValueError(f"bad hours {value!r}: the latest end is 24:00")
    if start == end % MINUTES_PER_DAY:
        raise ValueError(f"bad hours {value!r}: empty or whole-day window; leave hours out for all day")
    return start, end


def in_window(hours: str | None, weekdays: tuple[str, ...], weekday: int, minute: int) -> bool:
    """Whether a local weekday (0 = Monday) and minute of day fall in the window.

    A window that wraps midnight ("22:00-06:00") belongs to the day it starts: with weekdays [fri], it
    holds from Friday 22:00 to Saturday 06:00.
    """
    day = weekday
    if hours is not None:
        start, end = parse_hours(hours)
        if start < end:
            if not start <= minute < end:
                return False
        elif minute >= start:
            pass
        elif minute < end:
            day = (weekday - 1) % 7
        else:
            return False
    return not weekdays or WEEKDAYS[day] in weekdays


def qualify_places(match: Match, gazetteer: Gazetteer) -> tuple[Match, list[tuple[tuple[str | int, ...], str]]]:
    """``match`` with every street as '区/街乡镇', and the problems (field path, message) of its places."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, district in enumerate(match.districts):
        if district not in gazetteer.districts:
            problems.append(
                (("districts", index), f"unknown district {district!r}; known: {', '.join(gazetteer.districts)}")
            )
    qualified: list[str] = []
    for index, street in enumerate(match.streets):
        where = ("streets", index)
        district, name = split_qualified_street(street)
        if name is not None:
            if district not in gazetteer.districts:
                problems.append((where, f"unknown district {district!r} in street {street!r}"))
            elif name not in gazetteer.districts[district]:
                problems.append((where, f"{name!r} is not a street/town of {district} in the gazetteer"))
            else:
                qualified.append(street)
            continue
        homes = [d for d, names in gazetteer.districts.items() if street in names]
        if not homes:
            problems.append((where, f"unknown street/town {street!r} (official gazetteer names, e.g. '西红门镇')"))
        elif len(homes) > 1:
            options = ", ".join(f"'{qualified_street(d, street)}'" for d in homes)
            problems.append((where, f"street/town {street!r} is ambiguous: write one of {options}"))
        else:
            qualified.append(qualified_street(homes[0], street))
    if match.districts and not problems:
        outside = [s for s in qualified if split_qualified_street(s)[0] not in match.districts]
        if outside:
            problems.append((("streets",), f"streets {outside} are outside districts {match.districts}: never matched"))
    return match.model_copy(update={"streets": qualified}), problems


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
        m = self.match
        if self.assign.lead == "street" and not (m.requires_street or m.streets):
            raise ValueError("lead 'street' needs match.requires_street: true (or match.streets)")
        if self.assign.lead == "district" and not (
            m.requires_district or m.requires_street or m.districts or m.streets
        ):
            raise ValueError("lead 'district' needs match.requires_district: true (or match.districts)")
        return self

    @property
    def is_urgent(self) -> bool:
        """A life-or-safety rule: its calls are urgent (``shared.queues.URGENT_PRIORITY``)."""
        return is_urgent(self.assign.priority)

    @property
    def is_catch_all(self) -> bool:
        m = self.match
        return not (
            m.categories
            or m.subcategories
            or m.items
            or m.issues
            or m.keywords
            or m.and_keywords
            or m.unless
            or m.channels
        ) and not (m.requires_street or m.requires_district or m.districts or m.streets or m.is_timed)


class ReviewQueue(BaseModel):
    """Service times of the manual-classification queue (人工分拣)."""

    model_config = ConfigDict(extra="forbid")

    priority: int = Field(2, ge=1, le=5)
    response_hours: float = Field(2, gt=0)
    dispatch_by_words: bool = Field(
        True,
        description="A call the classifier is unsure of is still dispatched by a rule that needs no category "
        "(keywords, places) before it waits here; life-or-safety rules (priority 1) always are.",
    )
    street_first: bool = Field(
        False,
        description="A call the classifier is unsure of, that no rule took by its words, goes to its street/town "
        "(属地) when the place resolved one, instead of waiting here: the street handles most neighbourhood matters "
        "and summons departments (吹哨报到); the case keeps its unsure classification (an operator may still "
        "reclassify it). Never a call judged urgent: that one waits here, read first.",
    )


UnitType = Literal["municipal", "enterprise", "national", "other"]


class Department(BaseModel):
    """A unit a rule may name as ``department:<name>``: a municipal body (委办局) or a public-service enterprise
    (自来水、电力、燃气、热力、公交地铁、电信) 12345 dispatches to, with where the catalogue knows it from."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="The name after 'department:' in queue ids.")
    type: UnitType = Field("municipal", description="municipal body, public-service enterprise, national body.")
    duties: str | None = Field(None, description="What 12345 sends it, in a few words.")
    source: str | None = Field(None, description="Where this unit and its duties are known from.")

    @field_validator("name")
    @classmethod
    def _name_syntax(cls, value: str) -> str:
        QueueId.for_department(value)  # no blanks around the name
        return value


def declared_names(raw: Any) -> list[str]:
    """The names of the declared departments of a catalogue document (entries that are not valid are skipped)."""
    if not isinstance(raw, list):
        return []
    return [str(item.get("name")) if isinstance(item, dict) else str(item) for item in raw]


DISTRICT_FALLBACK_RULE = "district-sub-centre"
"""The rule sending a call whose district is known to the district sub-centre: the default service terms."""

DEFAULT_TERMS = Assign(lead="district", response_hours=24, resolution_days=10)
"""Service terms of a manual dispatch when the catalogue has neither the case's rule nor the fallback rule."""


class Catalogue(BaseModel):
    """A versioned dispatch catalogue."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, description="Version, carried in every assignment.")
    description: str | None = None
    review: ReviewQueue = Field(default_factory=lambda: ReviewQueue.model_validate({}))
    departments: list[Department] = Field(
        default_factory=list,
        description="Known departments (委办局) and enterprises; when given, every department:<name> must be one "
        "of them. Each is a name, or {name, type, duties, source}.",
    )
    holidays: list[date] = Field(default_factory=list, description="Public holidays skipped by working days.")
    rules: list[Rule] = Field(min_length=1)
    # The rules list the word finder was built for, and the finder (Catalogue.words_in).
    _words: tuple[list[Rule], WordFinder] | None = PrivateAttr(default=None)
    # The rules and departments lists department_queues was computed for, and its answer.
    _department_queues: tuple[list[Rule], list[Department], frozenset[str]] | None = PrivateAttr(default=None)

    @field_validator("departments", mode="before")
    @classmethod
    def _plain_names(cls, value: Any) -> Any:
        return (
            [{"name": item} if isinstance(item, str) else item for item in value] if isinstance(value, list) else value
        )

    def words_in(self, text: str) -> frozenset[str]:
        """The rules' keywords, and-keywords and unless words found in ``text`` (lower-cased): one pass over the text
        for the whole catalogue, which ``Match.words_match`` then tests each rule against instead of scanning the
        text once per rule."""
        return self._finder().found_in(text)

    def rules_for(self, present: frozenset[str], category: str | None) -> list[Rule]:
        """The rules a call with the words ``present`` (``words_in``) and this level-1 category may match, in order
        (``WordFinder.rules_for``): every other rule fails ``rule_matches``."""
        return self._finder().rules_for(present, category)

    def _finder(self) -> WordFinder:
        built = self._words
        if built is None or built[0] is not self.rules:  # a copy with other rules builds its own
            built = self._words = (self.rules, WordFinder(self.rules))
        return built[1]

    @property
    def department_names(self) -> list[str]:
        """The names of the declared departments, in the file's order."""
        return [department.name for department in self.departments]

    def department_queues(self) -> frozenset[str]:
        """Queue ids of every department the catalogue knows (declared or named by a rule); computed once for
        its rules and departments lists (a copy with other lists computes its own)."""
        held = self._department_queues
        if held is not None and held[0] is self.rules and held[1] is self.departments:
            return held[2]
        named = {unit for rule in self.rules for unit in rule_units(rule) if unit.startswith(DEPARTMENT_PREFIX)}
        queues = frozenset(named | {DEPARTMENT_PREFIX + name for name in self.department_names})
        self._department_queues = (self.rules, self.departments, queues)
        return queues

    def rule(self, rule_id: str | None) -> Rule | None:
        """The rule with ``rule_id``, or None."""
        return next((r for r in self.rules if r.id == rule_id), None)

    def service_terms(self, rule_id: str | None) -> Assign:
        """How fast a case must be handled when an operator dispatches it (人工派单): the terms of the rule
        it was routed by (a gas leak keeps its 1 hour), else the district sub-centre's, else 24 h / 10 days."""
        for candidate in (self.rule(rule_id), self.rule(DISTRICT_FALLBACK_RULE)):
            if candidate is not None and candidate.assign.lead != "manual":
                return candidate.assign
        return DEFAULT_TERMS


_SECOND = itemgetter(1)


class WordFinder:
    """Every keyword, and-keyword and unless word of a catalogue's rules in one Aho-Corasick automaton (C): finding
    which of them a text holds is one pass over the text, however many rules there are (207 rules, 3,300 words)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        words = {
            word for rule in rules for word in (*rule.match.keywords, *rule.match.and_keywords, *rule.match.unless)
        }
        # For rules_for: each word's and category's rules as bits of an int (bit i: rules[i]).
        self._rules = list(rules)
        self._keyword_of: dict[str, int] = {}
        self._and_keyword_of: dict[str, int] = {}
        self._unless_of: dict[str, int] = {}
        self._category_of: dict[str, int] = {}
        self._no_keywords = self._no_and_keywords = self._no_categories = 0
        for at, rule in enumerate(self._rules):
            bit = 1 << at
            for owner, listed in (
                (self._keyword_of, rule.match.keywords),
                (self._and_keyword_of, rule.match.and_keywords),
                (self._unless_of, rule.match.unless),
                (self._category_of, rule.match.categories),
            ):
                for word in listed:
                    owner[word] = owner.get(word, 0) | bit
            self._no_keywords |= 0 if rule.match.keywords else bit
            self._no_and_keywords |= 0 if rule.match.and_keywords else bit
            self._no_categories |= 0 if rule.match.categories else bit
        self._automaton: Any = None  # none for no words: an automaton without words cannot be searched
        if words:
            automaton = ahocorasick.Automaton()
            for word in words:
                automaton.add_word(word, word)
            automaton.make_automaton()
            self._automaton = automaton

    def found_in(self, text: str) -> frozenset[str]:
        """The words that occur in ``text`` (each once, overlapping occurrences included)."""
        if self._automaton is None:
            return frozenset()
        return frozenset(map(_SECOND, self._automaton.iter(text)))  # (end, word) pairs, unpacked in C

    def rules_for(self, present: frozenset[str], category: str | None) -> list[Rule]:
        """The rules, in order, that a call with these words (``found_in``) and level-1 category may match: a keyword
        and an and-keyword present when the rule lists them, no unless word, the category among the rule's. The
        same tests ``Match.words_match`` and ``rule_matches`` begin with, made once for all rules on bits, so the
        router tests the rest of a rule only on these (a few of 207) instead of on every rule."""
        keyword = and_keyword = unless = 0
        for word in present:
            keyword |= self._keyword_of.get(word, 0)
            and_keyword |= self._and_keyword_of.get(word, 0)
            unless |= self._unless_of.get(word, 0)
        in_category = self._category_of.get(category, 0) if category is not None else 0
        bits = (
            (keyword | self._no_keywords)
            & (and_keyword | self._no_and_keywords)
            & (in_category | self._no_categories)
            & ~unless
        )
        rules = []
        while bits:
            lowest = bits & -bits
            rules.append(self._rules[lowest.bit_length() - 1])
            bits ^= lowest
        return rules


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


def parse_catalogue(document: Any, gazetteer: Gazetteer | None = None) -> Catalogue:
    """A catalogue from a parsed YAML document; errors name the rule (index and id) and the field.

    Districts and streets are checked against ``gazetteer`` (the shipped one by default), and streets
    are stored as '区/街乡镇'.
    """
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
        if rule.match.districts or rule.match.streets:
            match, problems = qualify_places(rule.match, gazetteer or load_gazetteer())
            if problems:
                details = "; ".join(f"match.{'.'.join(str(p) for p in loc)}: {message}" for loc, message in problems)
                raise CatalogueError(f"{where}: {details}")
            rule = rule.model_copy(update={"match": match})
        seen[rule.id] = index
        rules.append(rule)
    departments = document.get("departments") or []
    if isinstance(departments, list):
        for index, rule in enumerate(rules):
            unknown = unknown_departments(rule, declared_names(departments))
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
        document = read_yaml(Path(path).read_text(encoding="utf-8"))
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
