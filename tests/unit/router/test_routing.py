"""Routing a classified call to a queue with the shipped Beijing catalogue and gazetteer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.router.routing import route_call
from shared.catalogue import Catalogue
from shared.events import Assignment, CallClassified, Location, UnitKind
from shared.gazetteer import Gazetteer
from shared.queues import is_urgent, priority_label
from shared.reference import LEVEL1_CATEGORIES
from shared.reference import MONTHLY_QUESTION_IDS as ISSUE_IDS
from tests import factories

NOW = datetime(2025, 5, 12, 2, 30, tzinfo=UTC)


def classified_call(
    category: str,
    *,
    body: str = "请尽快处理",
    subject: str = "",
    address: str | None = None,
    district: str | None = None,
    street: str | None = None,
    subcategory: str | None = None,
    issue: str | None = None,
    confidence: float = 0.92,
    needs_review: bool = False,
    channel: str = "phone",
) -> CallClassified:
    return factories.classified(
        factories.call(
            channel=channel,
            subject=subject,
            body=body,
            location=Location(address=address, district=district, street=street),
            received_at=NOW - timedelta(minutes=3),
        ),
        factories.classification(
            category, subcategory=subcategory, issue=issue, confidence=confidence, needs_review=needs_review
        ),
    )


def route(catalogue: Catalogue, gazetteer: Gazetteer, classified: CallClassified) -> Assignment:
    return route_call(classified, catalogue, gazetteer, NOW)


def test_wage_arrears_goes_to_labour_enforcement_with_street_cooperating(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    classified = classified_call(
        "劳动和社会保障", issue="wage-arrears", body="包工头拖欠三个月工资", address="大兴区西红门那边的工地"
    )
    assignment = route(catalogue, gazetteer, classified)
    assert assignment.queue_id == "department:市人力资源和社会保障局劳动保障监察总队"
    assert assignment.unit_kind is UnitKind.department
    assert "street:大兴区/西红门镇" in assignment.cooperating_units
    assert assignment.rule_id == "wage-arrears"
    assert assignment.catalogue_version == catalogue.version
    assert (assignment.district, assignment.street) == ("大兴区", "西红门镇")


def test_wage_arrears_without_a_place_still_goes_to_labour_enforcement(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    assignment = route(catalogue, gazetteer, classified_call("劳动和社会保障", issue="wage-arrears"))
    assert assignment.queue_id == "department:市人力资源和社会保障局劳动保障监察总队"
    assert not any(unit.startswith("street:") for unit in assignment.cooperating_units)
    assert "cooperating street left out" in assignment.reason


@pytest.mark.parametrize(
    ("issue", "lead"),
    [
        ("property-certificate", "department:市规划和自然资源委员会"),
        ("online-consumption", "department:市市场监督管理局"),
        ("prepaid-refund", "department:市市场监督管理局"),
        ("inclusive-kindergarten", "department:市教育委员会"),
        ("training-institutions", "department:市教育委员会"),
        ("home-elderly-care", "department:市民政局"),
        ("unlicensed-e-vehicles", "department:市公安局公安交通管理局"),
    ],
)
def test_monthly_question_problem_goes_to_its_lead_department(
    catalogue: Catalogue, gazetteer: Gazetteer, issue: str, lead: str
) -> None:
    assignment = route(catalogue, gazetteer, classified_call("商贸旅游", issue=issue, address="朝阳区望京"))
    assert assignment.queue_id == lead
    assert assignment.rule_id == issue


def test_every_monthly_question_problem_has_a_rule(catalogue: Catalogue) -> None:
    covered = {issue for rule in catalogue.rules for issue in rule.match.issues}
    assert covered == ISSUE_IDS


def test_old_community_renovation_goes_to_the_street_with_the_housing_commission(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    classified = classified_call(
        "城乡建设", issue="old-community-renovation", body="老旧小区改造加装电梯", address="丰台区方庄芳群园"
    )
    assignment = route(catalogue, gazetteer, classified)
    assert assignment.queue_id == "street:丰台区/方庄街道"
    assert assignment.unit_kind is UnitKind.street
    assert assignment.cooperating_units == ["department:市住房和城乡建设委员会"]


def test_urban_construction_with_a_resolved_street_is_dispatched_directly_to_it(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    classified = classified_call(
        "城乡建设", subcategory="城市建设和市政管理", body="小区门口垃圾没人清", address="大兴区西红门那边的宏福苑小区"
    )
    assignment = route(catalogue, gazetteer, classified)
    assert assignment.queue_id == "street:大兴区/西红门镇"
    assert assignment.rule_id == "urban-construction-street"


def test_urban_construction_with_only_the_district_goes_to_the_district_sub_centre(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    assignment = route(catalogue, gazetteer, classified_call("城乡建设", address="朝阳区一个小区门口"))
    assert assignment.queue_id == "district:朝阳区"
    assert assignment.unit_kind is UnitKind.district


def test_ambiguous_street_without_district_goes_to_district_or_manual(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    ambiguous = route(catalogue, gazetteer, classified_call("城乡建设", address="八里庄那边的小区"))
    assert ambiguous.queue_id == "manual:dispatch"
    assert ambiguous.rule_id == "manual-dispatch"
    assert "ambiguous" in ambiguous.reason
    with_district = route(catalogue, gazetteer, classified_call("城乡建设", address="八里庄那边", district="海淀区"))
    assert with_district.queue_id == "street:海淀区/八里庄街道"


def test_low_confidence_without_a_street_goes_to_manual_classification(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    classified = classified_call("城乡建设", confidence=0.31, needs_review=True, address="大兴区", issue="wage-arrears")
    assignment = route(catalogue, gazetteer, classified)
    assert assignment.queue_id == "manual:classification"
    assert assignment.unit_kind is UnitKind.manual
    assert assignment.rule_id is None
    assert assignment.response_due_at == NOW + timedelta(hours=catalogue.review.response_hours)
    assert (assignment.district, assignment.street) == ("大兴区", None)


def test_low_confidence_with_a_street_goes_to_the_street_unless_the_catalogue_says_not(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    """属地: an unsure call no rule took by its words goes to the street/town the place names (review.street_first);
    with the option off it waits in 人工分拣 as before."""
    classified = classified_call(
        "城乡建设", confidence=0.31, needs_review=True, address="大兴区西红门", issue="wage-arrears"
    )
    assignment = route(catalogue, gazetteer, classified)
    assert catalogue.review.street_first
    assert assignment.queue_id == "street:大兴区/西红门镇" and assignment.unit_kind is UnitKind.street
    assert "needs review" in assignment.reason and not is_urgent(assignment.priority)
    assert assignment.resolution_due_at is not None
    waiting = catalogue.model_copy(update={"review": catalogue.review.model_copy(update={"street_first": False})})
    held = route(waiting, gazetteer, classified)
    assert held.queue_id == "manual:classification" and held.rule_id is None
    assert (held.district, held.street) == ("大兴区", "西红门镇")


def test_unknown_place_and_uncovered_subject_goes_to_manual_dispatch(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    assignment = route(catalogue, gazetteer, classified_call("政法", subcategory="诉讼", body="法院迟迟不立案"))
    assert assignment.queue_id == "manual:dispatch"
    assert assignment.unit_kind is UnitKind.manual


@pytest.mark.parametrize("category", sorted(LEVEL1_CATEGORIES))
def test_every_level1_category_with_a_place_is_dispatched_without_an_operator(
    catalogue: Catalogue, gazetteer: Gazetteer, category: str
) -> None:
    assignment = route(catalogue, gazetteer, classified_call(category, address="通州区梨园地区云景里"))
    assert assignment.unit_kind is not UnitKind.manual
    assert assignment.rule_id is not None


@pytest.mark.parametrize("category", sorted(LEVEL1_CATEGORIES))
def test_every_level1_category_has_its_own_rule(catalogue: Catalogue, category: str) -> None:
    assert any(category in rule.match.categories for rule in catalogue.rules)


def test_due_times_follow_the_matched_rule(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    assignment = route(catalogue, gazetteer, classified_call("交通运输", subcategory="出租车管理"))
    rule = next(r for r in catalogue.rules if r.id == assignment.rule_id)
    assert assignment.queue_id == "department:市交通委员会"
    assert assignment.priority == rule.assign.priority
    assert assignment.response_due_at == NOW + timedelta(hours=rule.assign.response_hours)
    assert assignment.resolution_due_at == NOW + timedelta(days=rule.assign.resolution_days)


def test_gas_leak_keyword_comes_first_with_top_priority(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    classified = classified_call(
        "城乡建设", body="楼道里闻到燃气味，很浓", address="西城区大栅栏", issue="old-community-renovation"
    )
    assignment = route(catalogue, gazetteer, classified)
    assert assignment.rule_id == "urgent-gas-leak"
    assert assignment.priority == 1
    assert assignment.queue_id == "department:北京市燃气集团"
    assert assignment.cooperating_units == [
        "street:西城区/大栅栏街道",
        "department:市城市管理委员会",
        "department:市消防救援总队",
    ]
    assert priority_label(assignment.priority) == "urgent"
    assert assignment.response_due_at == NOW + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("body", "rule_id", "lead"),
    [
        ("楼道里一股煤气味，很浓，怕燃气泄漏", "urgent-gas-leak", "department:北京市燃气集团"),
        ("There is a strong smell of gas in our stairwell", "urgent-gas-leak", "department:北京市燃气集团"),
        ("对面楼三层着火了，一直在冒烟", "urgent-fire", "department:市消防救援总队"),
        ("我们单元电梯困人，有个老人被困在电梯里半小时了", "urgent-lift-trapped", "department:市消防救援总队"),
        ("My neighbour is stuck in the elevator", "urgent-lift-trapped", "department:市消防救援总队"),
        ("孩子被反锁在家里，大人不在", "urgent-person-trapped", "department:市消防救援总队"),
        ("路口自来水管爆裂，水往外喷", "urgent-water-main", "department:北京市自来水集团"),
        ("暴雨后下凹桥积水很深，有车被困", "urgent-person-trapped", "department:市消防救援总队"),
        ("小区门口有人持刀打架", "urgent-violence", "department:市公安局"),
        ("Two men are fighting with a knife outside the shop", "urgent-violence", "department:市公安局"),
        ("楼下电线断了掉在地上，还在打火花", "urgent-electrical", "department:国网北京市电力公司"),
        ("邻居独居老人联系不上，已经几天没出门了", "urgent-person-in-danger", "department:市公安局"),
        # Unresponsive: the sign next to calling or lying words, in any wording; English injuries.
        ("天桥底下躺着个人，喊了半天没反应", "urgent-unresponsive", "department:市卫生健康委员会"),
        ("电暖气把窗帘点着了，屋里全是味", "urgent-fire-spreading", "department:市消防救援总队"),
        ("插线板着了，往外冒火星子", "urgent-fire-spreading", "department:市消防救援总队"),
        ("小孩的脚卡在下水道的铁篦子里拔不出来", "urgent-body-stuck", "department:市消防救援总队"),
        ("路上的水快没过车门了，车里还有人", "urgent-deep-water", "department:市水务局"),
        ("She texted me goodbye and swallowed all her pills", "urgent-person-in-danger", "department:市公安局"),
        ("A man is lying on the pavement, not moving at all", "urgent-person-in-danger", "department:市公安局"),
        # A body in distress goes to 120 (the health commission), the police cooperating; self-harm stays with the police.
        ("A cyclist was knocked down by a van at the crossing", "urgent-medical", "department:市卫生健康委员会"),
        (
            "My son fell off the climbing frame and hit his head, he is confused",
            "urgent-medical",
            "department:市卫生健康委员会",
        ),
        ("我爷爷吃饭时候呛着了，脸都紫了，咳不出来", "urgent-medical", "department:市卫生健康委员会"),
        ("儿子发着高烧突然抽过去了，眼睛往上翻", "urgent-medical", "department:市卫生健康委员会"),
        ("我奶奶在厨房摔倒了起不来，一动就喊疼", "urgent-medical", "department:市卫生健康委员会"),
        ("My wife fainted in the kitchen and is breathing strangely", "urgent-medical", "department:市卫生健康委员会"),
        ("他吃了安眠药，现在昏迷了", "urgent-person-in-danger", "department:市公安局"),
        ("孙子把爷爷的降压药误吃了好几片，现在直犯困", "urgent-swallowed", "department:市卫生健康委员会"),
        ("我真的活不下去了，绳子都准备好了", "urgent-self-harm-intent", "department:市公安局"),
        # Buried, a heating pipe bursting, a lift dropping, someone outside a bridge railing, English fire wording.
        ("下水道沟槽塌了，有个工人被埋进去半截", "urgent-buried", "department:市消防救援总队"),
        ("暖气管子爆了，开水喷了一地，老人在屋里", "urgent-heating-burst", "department:北京市热力集团"),
        ("电梯突然往下掉了好几层，门扒不开", "urgent-lift-trapped", "department:市消防救援总队"),
        ("桥上有个人翻过栏杆了，一直往下看", "urgent-person-at-edge", "department:市公安局"),
        ("There's a smell of burning plastic in the corridor", "urgent-fire", "department:市消防救援总队"),
    ],
)
def test_life_or_safety_calls_are_urgent_even_when_the_classification_needs_review(
    catalogue: Catalogue, gazetteer: Gazetteer, body: str, rule_id: str, lead: str
) -> None:
    unsure = classified_call("环境保护", body=body, confidence=0.39, needs_review=True)
    assignment = route(catalogue, gazetteer, unsure)
    assert (assignment.rule_id, assignment.queue_id) == (rule_id, lead)
    assert is_urgent(assignment.priority)
    assert assignment.response_due_at is not None and assignment.response_due_at <= NOW + timedelta(hours=1)
    assert assignment.resolution_due_at is not None and assignment.resolution_due_at <= NOW + timedelta(days=1)
    assert "urgent before review" in assignment.reason


@pytest.mark.parametrize(
    "body",
    [
        "楼道堆物存在火灾隐患，请物业清理",
        "请拨打人工服务帮我查询社保",
        "我家的狗走失了",
        "这件事让我很困扰",
    ],
)
def test_a_hazard_report_or_a_figure_of_speech_is_not_urgent(
    catalogue: Catalogue, gazetteer: Gazetteer, body: str
) -> None:
    assignment = route(catalogue, gazetteer, classified_call("城乡建设", body=body, address="西城区大栅栏"))
    assert not is_urgent(assignment.priority)


def test_an_unsure_call_with_no_danger_still_waits_for_review(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    assignment = route(catalogue, gazetteer, classified_call("环境保护", body="想咨询一下政策", needs_review=True))
    assert assignment.queue_id == "manual:classification"
    assert not is_urgent(assignment.priority)


def test_discipline_complaints_never_go_to_the_street(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    assignment = route(catalogue, gazetteer, classified_call("纪检监察", address="大兴区西红门镇政府"))
    assert assignment.queue_id == "department:市纪委市监委"
    assert assignment.cooperating_units == []


def test_place_said_only_in_the_request_text_is_used(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    classified = classified_call("环境保护", subcategory="环境污染", body="望京街道花家地北里的烧烤店油烟扰民")
    assignment = route(catalogue, gazetteer, classified)
    assert assignment.queue_id == "street:朝阳区/望京街道"
    assert "request text" in assignment.reason


def test_bare_word_in_the_request_text_is_not_taken_for_a_place(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    # 望京 alone is a place in an address field, but in free text only official names count.
    assignment = route(catalogue, gazetteer, classified_call("城乡建设", body="下班去望京吃饭，路上井盖丢了"))
    assert assignment.street is None


def test_routing_needs_an_aware_clock(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        route_call(classified_call("城乡建设"), catalogue, gazetteer, datetime(2025, 5, 12))


@pytest.mark.parametrize(
    ("body", "lead"),
    [
        # The unit the citizen's words name when the classifier is unsure: a dispatcher reading them knows it.
        ("孩子户口和房子都在这个片区，片区小学却说没学位", "department:市教育委员会"),
        ("从镇上买的除草剂打完，麦子全黄了，怀疑是假药", "department:市农业农村局"),
        ("被欠了半年工资实在没辙了，老板电话也不接", "department:市人力资源和社会保障局劳动保障监察总队"),
        ("我爸中风出院了，想问长期护理保险怎么申请", "department:市医疗保障局"),
        ("村支书把低保名额给了自己的亲戚", "department:市纪委市监委"),
        ("村里拆迁，评估价比隔壁村低了一半", "district:海淀区"),
        ("楼上养了三条狗，天天半夜叫", "street:海淀区/海淀街道"),
        ("最近总是失眠，想找个免费的心理咨询热线聊聊", "department:市卫生健康委员会"),
        ("村卫生院的大夫一个月就来两天", "department:市卫生健康委员会"),
        ("网上的办事指南和窗口说的材料不一样", "department:市政务服务和数据管理局"),
        ("菜市场好几家摊位都不标价，结账才说多少钱", "department:市市场监督管理局"),
        ("执法队员收了商户的钱，就让他们把摊摆到马路上", "department:市纪委市监委"),
        ("电动车停路边被一辆面包车剐了，司机直接开跑了", "department:市公安局公安交通管理局"),
        (
            "Bought the flat six years ago and the developer still has not got us a property certificate",
            "department:市规划和自然资源委员会",
        ),
    ],
)
def test_the_words_a_dispatcher_reads_decide_an_unsure_call(
    catalogue: Catalogue, gazetteer: Gazetteer, body: str, lead: str
) -> None:
    call = classified_call("城乡建设", body=body, address="海淀区海淀街道", confidence=0.35, needs_review=True)
    assert route(catalogue, gazetteer, call).queue_id == lead


def test_a_word_of_another_sector_does_not_take_the_call_there(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    """户口 in a school-place call is no police matter, a landlord's 押金 no shared-bike deposit."""
    school = classified_call(
        "教育文体", body="孩子户口和房子都在这个片区，片区小学却说没学位", address="海淀区海淀街道"
    )
    assert route(catalogue, gazetteer, school).rule_id != "police-words"
    landlord = classified_call("商贸旅游", body="房东不退押金，说墙上有钉子眼要扣钱", address="海淀区海淀街道")
    assert route(catalogue, gazetteer, landlord).rule_id != "transport-words"
