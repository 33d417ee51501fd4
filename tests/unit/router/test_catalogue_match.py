"""Catalogue rules that match on district, street/town and the local time of day the call was received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.router.catalogue_check import check_catalogue_text
from services.router.routing import candidate_assignments, route_call
from shared.catalogue import Catalogue, CatalogueError, load_catalogue, parse_catalogue, tells_of_the_past
from shared.events import Assignment, CallClassified, UnitKind
from shared.gazetteer import Gazetteer
from tests import factories

# Beijing is UTC+8 all year: 14:00 UTC is 22:00 in Beijing.
MONDAY_NOON_BEIJING = datetime(2025, 5, 12, 4, 0, tzinfo=UTC)


def beijing(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of May 2025 given in Beijing local time (12th = Monday), as UTC."""
    return datetime(2025, 5, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def rule(rule_id: str, lead: str = "department:市民政局", **match: Any) -> dict[str, Any]:
    return {
        "id": rule_id,
        "description": {"zh": "测试", "en": "test"},
        "match": match,
        "assign": {"lead": lead, "response_hours": 24, "resolution_days": 7},
    }


def catalogue_of(*rules: dict[str, Any]) -> Catalogue:
    return parse_catalogue({"version": "test-1", "rules": [*rules, rule("fallback", "manual")]})


def classified(
    received_at: datetime = MONDAY_NOON_BEIJING,
    *,
    category: str = "城乡建设",
    body: str = "请尽快处理",
    address: str | None = None,
    issue: str | None = None,
) -> CallClassified:
    return factories.classified(
        factories.call("T-9", body=body, address=address, received_at=received_at),
        factories.classification(category, issue=issue),
    )


def routed(catalogue: Catalogue, gazetteer: Gazetteer, call: CallClassified) -> Assignment:
    return route_call(call, catalogue, gazetteer, call.call.received_at + timedelta(minutes=1))


# --- districts and streets ---------------------------------------------------------------------------


def test_a_district_rule_takes_calls_in_its_district_only(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("daxing", "district", districts=["大兴区"]))
    assert routed(catalogue, gazetteer, classified(address="大兴区西红门镇宏福苑")).rule_id == "daxing"
    assert routed(catalogue, gazetteer, classified(address="海淀区中关村街道")).rule_id == "fallback"
    assert routed(catalogue, gazetteer, classified(address="不知道在哪")).rule_id == "fallback"


def test_a_street_rule_accepts_bare_unique_names_and_stores_them_qualified(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("xihongmen", "street", streets=["西红门镇"]))
    assert catalogue.rules[0].match.streets == ["大兴区/西红门镇"]
    assignment = routed(catalogue, gazetteer, classified(address="大兴区西红门镇宏福苑"))
    assert (assignment.rule_id, assignment.queue_id) == ("xihongmen", "street:大兴区/西红门镇")
    other_street = routed(catalogue, gazetteer, classified(address="大兴区旧宫镇"))
    assert other_street.rule_id == "fallback"
    district_only = routed(catalogue, gazetteer, classified(address="大兴区"))
    assert district_only.rule_id == "fallback"


def test_an_ambiguous_bare_street_is_rejected_naming_both_districts() -> None:
    with pytest.raises(CatalogueError, match=r"id 'eight-li'.*ambiguous.*朝阳区/八里庄街道.*海淀区/八里庄街道"):
        catalogue_of(rule("eight-li", streets=["八里庄街道"]))
    qualified = catalogue_of(rule("eight-li", streets=["海淀区/八里庄街道"]))
    assert qualified.rules[0].match.streets == ["海淀区/八里庄街道"]


def test_an_unknown_district_is_rejected_with_the_rule_id() -> None:
    with pytest.raises(
        CatalogueError, match=r"rule #0 \(id 'etown'\): match\.districts\.0: unknown district '亦庄开发区'"
    ):
        catalogue_of(rule("etown", districts=["亦庄开发区"]))


def test_an_unknown_street_or_a_street_of_another_district_is_rejected_with_the_rule_id() -> None:
    with pytest.raises(CatalogueError, match=r"id 'nowhere'.*match\.streets\.0: unknown street/town '月亮街道'"):
        catalogue_of(rule("nowhere", streets=["月亮街道"]))
    with pytest.raises(CatalogueError, match=r"id 'wrong-home'.*'西红门镇' is not a street/town of 海淀区"):
        catalogue_of(rule("wrong-home", streets=["海淀区/西红门镇"]))


def test_a_street_outside_the_rules_districts_is_rejected_as_never_matched() -> None:
    with pytest.raises(CatalogueError, match=r"id 'mixed'.*outside districts"):
        catalogue_of(rule("mixed", districts=["海淀区"], streets=["大兴区/西红门镇"]))


def test_a_street_lead_may_rely_on_streets_instead_of_requires_street() -> None:
    catalogue_of(rule("listed", "street", streets=["大兴区/西红门镇"]))
    with pytest.raises(CatalogueError, match="lead 'street' needs"):
        catalogue_of(rule("district-only", "street", districts=["大兴区"]))


# --- hours and weekdays ------------------------------------------------------------------------------


def test_a_daytime_window_uses_beijing_time_start_included_end_excluded(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("office", hours="09:00-17:30"))
    assert routed(catalogue, gazetteer, classified(beijing(12, 9, 0))).rule_id == "office"
    assert routed(catalogue, gazetteer, classified(beijing(12, 17, 29))).rule_id == "office"
    assert routed(catalogue, gazetteer, classified(beijing(12, 17, 30))).rule_id == "fallback"
    # 08:30 UTC is 16:30 in Beijing (inside), though 08:30 as a UTC clock reading would be outside.
    assert routed(catalogue, gazetteer, classified(datetime(2025, 5, 12, 8, 30, tzinfo=UTC))).rule_id == "office"
    assert routed(catalogue, gazetteer, classified(datetime(2025, 5, 12, 12, 0, tzinfo=UTC))).rule_id == "fallback"


def test_a_window_wrapping_midnight_holds_late_evening_and_early_morning(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("night", hours="22:00-06:00"))
    for day, hour, minute in [(12, 22, 0), (12, 23, 59), (13, 0, 0), (13, 5, 59)]:
        assert routed(catalogue, gazetteer, classified(beijing(day, hour, minute))).rule_id == "night", (hour, minute)
    for hour, minute in [(6, 0), (12, 0), (21, 59)]:
        assert routed(catalogue, gazetteer, classified(beijing(13, hour, minute))).rule_id == "fallback"


def test_the_time_is_when_the_call_was_received_not_when_it_is_routed(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("night", hours="22:00-06:00"))
    call = classified(beijing(12, 23, 0))
    next_morning = beijing(13, 9, 0)
    assert route_call(call, catalogue, gazetteer, next_morning).rule_id == "night"


def test_weekdays_restrict_the_rule_and_a_night_belongs_to_the_day_it_starts(gazetteer: Gazetteer) -> None:
    weekend = catalogue_of(rule("weekend", weekdays=["sat", "sun"]))
    assert routed(weekend, gazetteer, classified(beijing(17, 10))).rule_id == "weekend"  # Saturday
    assert routed(weekend, gazetteer, classified(beijing(18, 23))).rule_id == "weekend"  # Sunday
    assert routed(weekend, gazetteer, classified(beijing(19, 0, 30))).rule_id == "fallback"  # Monday
    friday_night = catalogue_of(rule("friday-night", hours="22:00-06:00", weekdays=["fri"]))
    assert routed(friday_night, gazetteer, classified(beijing(16, 23))).rule_id == "friday-night"  # Fri 23:00
    assert routed(friday_night, gazetteer, classified(beijing(17, 3))).rule_id == "friday-night"  # Sat 03:00
    assert routed(friday_night, gazetteer, classified(beijing(16, 3))).rule_id == "fallback"  # Fri 03:00: Thursday's
    assert routed(friday_night, gazetteer, classified(beijing(17, 23))).rule_id == "fallback"  # Sat 23:00


@pytest.mark.parametrize("hours", ["22:00", "25:00-06:00", "22:00-22:00", "00:00-24:00", "7:00-9:00", "22:60-06:00"])
def test_a_malformed_or_empty_window_is_rejected_with_the_rule_id(hours: str) -> None:
    with pytest.raises(CatalogueError, match=r"id 'bad-hours'.*match\.hours"):
        catalogue_of(rule("bad-hours", hours=hours))


def test_an_unknown_weekday_is_rejected_with_the_rule_id() -> None:
    with pytest.raises(CatalogueError, match=r"id 'bad-day'.*match\.weekdays"):
        catalogue_of(rule("bad-day", weekdays=["friday"]))


def test_a_rule_with_only_a_time_window_is_not_a_catch_all() -> None:
    catalogue = catalogue_of(rule("nights", hours="22:00-06:00"), rule("daxing", districts=["大兴区"]))
    assert not catalogue.rules[0].is_catch_all and not catalogue.rules[1].is_catch_all


def test_a_timed_rule_that_does_not_hold_is_no_redispatch_candidate(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("night", "department:市水务局", hours="22:00-06:00"))
    call = classified(beijing(12, 12))
    queues = [
        a.queue_id
        for a in candidate_assignments(call.call, call.classification, catalogue, gazetteer, call.call.received_at)
    ]
    assert "department:市水务局" not in queues


# --- the shipped catalogue ---------------------------------------------------------------------------


def test_night_construction_noise_goes_to_the_street_with_city_management(gazetteer: Gazetteer) -> None:
    catalogue = load_catalogue()
    night = classified(beijing(12, 23, 30), body="工地半夜施工噪音太大睡不着", address="大兴区西红门镇宏福苑")
    assignment = routed(catalogue, gazetteer, night)
    assert assignment.rule_id == "night-construction-noise"
    assert (assignment.queue_id, assignment.priority) == ("street:大兴区/西红门镇", 2)
    assert assignment.cooperating_units == ["department:市城市管理委员会"]
    day = classified(beijing(12, 15), body="工地施工噪音太大", address="大兴区西红门镇宏福苑")
    assert routed(catalogue, gazetteer, day).rule_id != "night-construction-noise"


def test_daxing_agriculture_goes_to_the_daxing_sub_centre_and_elsewhere_to_the_bureau(gazetteer: Gazetteer) -> None:
    catalogue = load_catalogue()
    daxing = routed(
        catalogue, gazetteer, classified(category="农村农业", body="西瓜大棚补贴", address="大兴区庞各庄镇")
    )
    assert (daxing.rule_id, daxing.queue_id, daxing.unit_kind) == (
        "daxing-agriculture",
        "district:大兴区",
        UnitKind.district,
    )
    assert "street:大兴区/庞各庄镇" in daxing.cooperating_units
    shunyi = routed(catalogue, gazetteer, classified(category="农村农业", body="大棚补贴", address="顺义区李桥镇"))
    assert shunyi.rule_id == "agriculture"


def test_huitian_streets_get_urban_construction_with_the_changping_sub_centre(gazetteer: Gazetteer) -> None:
    assignment = routed(load_catalogue(), gazetteer, classified(body="小区路灯坏了", address="昌平回龙观龙泽苑"))
    assert (assignment.rule_id, assignment.queue_id) == ("huitian-urban-construction", "street:昌平区/回龙观街道")
    assert assignment.cooperating_units == ["district:昌平区"]


def test_weekend_subject_training_goes_to_the_district_sub_centre(gazetteer: Gazetteer) -> None:
    catalogue = load_catalogue()
    body = "周末补课，机构正在上课"
    saturday = classified(
        beijing(17, 10), category="教育文体", issue="training-institutions", body=body, address="海淀区中关村街道"
    )
    assert routed(catalogue, gazetteer, saturday).rule_id == "weekend-subject-training"
    tuesday = classified(
        beijing(13, 10), category="教育文体", issue="training-institutions", body=body, address="海淀区中关村街道"
    )
    assert routed(catalogue, gazetteer, tuesday).rule_id == "training-institutions"


# --- `hotline catalogue check` -----------------------------------------------------------------------

HEADER = """version: t-1
departments: [市民政局, 市水务局]
rules:
"""
LAST = """  - id: manual-dispatch
    description: {zh: 测试, en: test}
    assign: {lead: manual, response_hours: 24, resolution_days: 7}
"""


def text_rule(rule_id: str, match: str, lead: str = "department:市民政局") -> str:
    return f"""  - id: {rule_id}
    description: {{zh: 测试, en: test}}
    match: {match}
    assign: {{lead: "{lead}", response_hours: 24, resolution_days: 7}}
"""


def findings_of(*rules: str) -> list[tuple[str | None, str]]:
    return [(f.rule_id, f.severity) for f in check_catalogue_text(HEADER + "".join(rules) + LAST)]


def test_a_district_or_night_rule_does_not_shadow_a_later_unrestricted_one() -> None:
    assert (
        findings_of(
            text_rule("daxing", "{categories: [民政], districts: [大兴区]}"), text_rule("all", "{categories: [民政]}")
        )
        == []
    )
    assert (
        findings_of(
            text_rule("night", "{categories: [民政], hours: '22:00-06:00'}"), text_rule("all", "{categories: [民政]}")
        )
        == []
    )
    assert (
        findings_of(
            text_rule("street", "{categories: [民政], streets: [西红门镇]}"), text_rule("all", "{categories: [民政]}")
        )
        == []
    )


def test_an_unrestricted_rule_shadows_a_later_district_or_night_one() -> None:
    all_first = text_rule("all", "{categories: [民政]}")
    assert findings_of(all_first, text_rule("daxing", "{categories: [民政], districts: [大兴区]}")) == [
        ("daxing", "error")
    ]
    assert findings_of(all_first, text_rule("night", "{categories: [民政], hours: '22:00-06:00'}")) == [
        ("night", "error")
    ]
    assert findings_of(all_first, text_rule("sat", "{categories: [民政], weekdays: [sat]}")) == [("sat", "error")]


def test_a_wider_window_or_district_shadows_a_narrower_one_and_not_the_reverse() -> None:
    assert findings_of(
        text_rule("night", "{categories: [民政], hours: '22:00-06:00'}"),
        text_rule("small-hours", "{categories: [民政], hours: '01:00-05:00', weekdays: [mon]}"),
    ) == [("small-hours", "error")]
    assert findings_of(
        text_rule("south", "{categories: [民政], districts: [大兴区, 房山区]}"),
        text_rule("xihongmen", "{categories: [民政], streets: [西红门镇]}"),
    ) == [("xihongmen", "error")]
    assert (
        findings_of(
            text_rule("small-hours", "{categories: [民政], hours: '01:00-05:00'}"),
            text_rule("night", "{categories: [民政], hours: '22:00-06:00'}"),
        )
        == []
    )


def test_disjoint_windows_or_districts_do_not_overlap_but_intersecting_ones_warn() -> None:
    evening = text_rule("evening", "{categories: [民政], hours: '18:00-23:00'}")
    assert (
        findings_of(evening, text_rule("morning", "{categories: [民政], hours: '06:00-09:00'}", "department:市水务局"))
        == []
    )
    assert findings_of(
        evening, text_rule("night", "{categories: [民政], hours: '22:00-06:00'}", "department:市水务局")
    ) == [("night", "warning")]
    daxing = text_rule("daxing", "{categories: [民政], districts: [大兴区, 房山区]}")
    assert (
        findings_of(daxing, text_rule("haidian", "{categories: [民政], districts: [海淀区]}", "department:市水务局"))
        == []
    )


def test_the_check_reports_an_unknown_district_at_its_line_with_the_rule_id() -> None:
    text = HEADER + text_rule("etown", "{districts: [经济技术开发区]}") + LAST
    [finding] = check_catalogue_text(text)
    assert (finding.line, finding.severity, finding.rule_id) == (6, "error", "etown")
    assert "match.districts.0" in finding.message and "经济技术开发区" in finding.message


# --- words: any case, combinations, exclusions; rules that decide before review ----------------------


def test_keywords_match_whatever_the_citizens_capitals(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("gas", keywords=["Gas Leak"]))
    assert routed(catalogue, gazetteer, classified(body="GAS LEAK in the stairwell")).rule_id == "gas"


def test_and_keywords_need_a_word_of_each_list(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("gas-smell", keywords=["燃气", "煤气"], and_keywords=["漏", "味"]))
    assert routed(catalogue, gazetteer, classified(body="煤气灶那儿有股怪味")).rule_id == "gas-smell"
    assert routed(catalogue, gazetteer, classified(body="燃气费怎么交")).rule_id == "fallback"
    assert routed(catalogue, gazetteer, classified(body="水管漏了")).rule_id == "fallback"


def test_unless_keeps_a_call_out_of_a_rule(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("fire", keywords=["火灾"], unless=["隐患"]))
    assert routed(catalogue, gazetteer, classified(body="楼里发生火灾")).rule_id == "fire"
    assert routed(catalogue, gazetteer, classified(body="楼道堆物有火灾隐患")).rule_id == "fallback"


def test_within_keeps_the_two_words_of_a_hazard_close(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("gas", keywords=["燃气", "灶"], and_keywords=["漏", "滋滋"], within=6))
    assert routed(catalogue, gazetteer, classified(body="厨房灶台那块儿滋滋的")).rule_id == "gas"
    far = "燃气费昨天交过了，物业说我家的情况很特殊，要等下个星期才能来看看卫生间的水龙头漏不漏"
    assert routed(catalogue, gazetteer, classified(body=far)).rule_id == "fallback"
    with pytest.raises(CatalogueError, match="within needs both keywords and and_keywords"):
        catalogue_of(rule("half", keywords=["燃气"], within=6))


@pytest.mark.parametrize(
    ("body", "urgent"),
    [
        ("楼道里一股燃气味，好几层都能闻到", True),
        ("上个月漏过一次燃气，现在修好了，想问问多久检查一次", False),
        ("上周修好了，今天燃气又漏了，味很大", True),  # a present marker outweighs the past one
        ("电梯经常坏，没人被关过", False),  # a denial is never urgent
        ("小区燃气管道存在安全隐患，希望检查", False),  # a standing hazard reported, not a leak now
        ("there was a gas leak last month but it was fixed", False),
        ("the gas leak we had last week is back again right now", True),
        # A danger named only to deny it: the negation right before the danger word.
        ("查了说没漏气，就是燃气味是下水道返上来的", False),
        ("燃气公司的人来看了，说不是漏气，是下水道的味", False),
        ("It was a false alarm, the gas smell was from the drain", False),
        ("是不是燃气漏了？一股味", True),  # a question is not a denial
        ("会不会漏气了，燃气表那里有味", True),
    ],
)
def test_a_now_only_rule_keeps_out_a_danger_that_is_over_denied_or_standing(
    gazetteer: Gazetteer, body: str, urgent: bool
) -> None:
    catalogue = catalogue_of(
        rule("gas", keywords=["燃气", "gas", "电梯"], and_keywords=["漏", "味", "leak", "关"], now_only=True)
    )
    assert (routed(catalogue, gazetteer, classified(body=body)).rule_id == "gas") is urgent


@pytest.mark.parametrize(
    "text",
    [
        "没着火啊，就是楼下烧烤店烟太大了",
        "我没有想不开，就是心里难受",
        "不是什么急事，楼道灭火器过期了",
        "我不是想寻短见，工资要不回来",
        "没有人受伤，就是车被剐了",
        "昨晚的火已经灭了，想问问谁来修",
        # Placed earlier, experienced, or the caller unhurt: a standing state (一直) does not bring it back.
        "打架是上午的事，人早走了，想问问派出所为啥一直不立案",
        "上次电梯困过人以后就一直停着，物业也不修",
        "我人没事，就是电动车被剐了，对方开跑了",
        "水管漏水把楼下淹了，总阀已经关了，想商量赔偿",
        # Responders already came; a standing or habitual problem; "not to this day" is no present danger.
        "昨天半夜有人在楼下打架，派出所来过了，想装监控",
        "电梯前两天困过人，后来物业叫人放出来了，可到现在还是三天两头停",
        "去年汛期河堤冲开过一个口子，到今天也没修",
        "污水井老往外冒脏水，好几个月了",
        "Our building had a gas smell last Tuesday. The gas company came and fixed it.",
    ],
)
def test_a_denied_or_finished_danger_tells_of_no_present_one(text: str) -> None:
    assert tells_of_the_past(text.lower())


@pytest.mark.parametrize(
    "text",
    [
        "是不是着火了，一股焦糊味",
        "没法出来，被困在电梯里了",
        "他说他想不开，药都吃了",
        "没人管，门口着火了",
        "上次就困过人，今天又困住了，里面有个老人",  # an experienced danger back again
        "电梯困人了，里面的人一直在喊",  # 一直 with no earlier danger told
        "从昨天到现在还在漏气，一屋子味",  # still going on: 到现在还在 is present
        "a man follows my daughter every day and today he grabbed her arm",  # a habit, and today it is here
    ],
)
def test_a_question_or_a_negation_of_something_else_is_no_denial(text: str) -> None:
    assert not tells_of_the_past(text.lower())


def test_a_close_words_or_present_danger_rule_does_not_shadow_a_looser_one() -> None:
    close = text_rule("close", "{keywords: [燃气], and_keywords: [漏], within: 5}")
    now = text_rule("now", "{keywords: [燃气], now_only: true}")
    assert findings_of(close, text_rule("any", "{keywords: [燃气], and_keywords: [漏]}", "department:市水务局")) == []
    assert findings_of(now, text_rule("any", "{keywords: [燃气]}", "department:市水务局")) == []
    loose = text_rule("loose", "{keywords: [燃气], and_keywords: [漏]}")
    assert findings_of(loose, text_rule("close", "{keywords: [燃气], and_keywords: [漏], within: 5}")) == [
        ("close", "error")
    ]


def test_an_item_rule_sends_a_level_3_item_to_its_owner_and_unknown_items_are_rejected(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("water", "department:北京市自来水集团", items=["自来水供应"]))
    call = factories.call("T-11", body="水有点黄", received_at=MONDAY_NOON_BEIJING)
    water = factories.classification("城乡建设", subcategory="城市建设和市政管理", item="自来水供应")
    assert routed(catalogue, gazetteer, factories.classified(call, water)).rule_id == "water"
    power = factories.classification("城乡建设", subcategory="城市建设和市政管理", item="电力供应")
    assert routed(catalogue, gazetteer, factories.classified(call, power)).rule_id == "fallback"
    with pytest.raises(CatalogueError, match="unknown level-3 items"):
        catalogue_of(rule("vague", items=["其他"]))
    assert catalogue_of(rule("water", items=["自来水供应"])).rules[0].match.uses_classification


def unsure(body: str) -> CallClassified:
    call = factories.call("T-10", body=body, received_at=MONDAY_NOON_BEIJING)
    return factories.classified(call, factories.classification("环境保护", confidence=0.3, needs_review=True))


def test_an_unsure_call_is_dispatched_by_a_words_rule_unless_the_catalogue_says_not(gazetteer: Gazetteer) -> None:
    rules = [
        rule("by-category", categories=["城乡建设"]),
        rule("urgent", "department:市水务局", keywords=["爆管"]),
        rule("fund", "department:市民政局", keywords=["公积金"]),
    ]
    rules[1]["assign"]["priority"] = 1
    document = {"version": "t", "rules": [*rules, rule("fallback", "manual")]}
    catalogue = parse_catalogue(document)
    assert routed(catalogue, gazetteer, unsure("公积金提取不了")).rule_id == "fund"
    assert routed(catalogue, gazetteer, unsure("路口爆管了")).rule_id == "urgent"
    assert routed(catalogue, gazetteer, unsure("请尽快处理")).queue_id == "manual:classification"
    strict = parse_catalogue({**document, "review": {"dispatch_by_words": False}})
    assert routed(strict, gazetteer, unsure("公积金提取不了")).queue_id == "manual:classification"
    assert routed(strict, gazetteer, unsure("路口爆管了")).rule_id == "urgent"  # urgency never waits


def test_declared_units_name_their_source() -> None:
    header = """version: t-1
departments:
  - {name: 市民政局, type: municipal, source: "Beijing government body list"}
  - {name: 市水务局, type: municipal}
  - 市民政局
rules:
"""
    findings = check_catalogue_text(header + text_rule("x", "{categories: [民政]}") + LAST)
    messages = [(f.severity, f.message) for f in findings]
    assert ("warning", "department '市水务局' has no source") in messages
    assert ("error", "department '市民政局' twice") in messages
    catalogue = parse_catalogue({"version": "t", "departments": ["市民政局", {"name": "北京市自来水集团",
                                 "type": "enterprise", "source": "12345 direct dispatch"}], "rules": [rule("x")]})  # fmt: skip
    assert catalogue.department_names == ["市民政局", "北京市自来水集团"]
    assert "department:北京市自来水集团" in catalogue.department_queues()


def test_a_rule_for_calls_judged_urgent_shadows_no_plain_rule_and_warns_of_no_overlap() -> None:
    urgent = text_rule("urgent", "{keywords: [疼], requires_urgency: true}", "department:市水务局")
    assert findings_of(urgent, text_rule("plain", "{keywords: [疼]}")) == []
    assert findings_of(text_rule("plain", "{keywords: [疼]}"), urgent) == [("urgent", "error")]
