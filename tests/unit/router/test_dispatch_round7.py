"""The seventh dispatch round's causes: a danger's sign said gone now or a habit, a station exit said as a place,
a neighbourhood matter with no place to 人工派单 before sorting, the unit that supplies or regulates (a village's
water, a property's boiler, timetables, shared-bike fees, radiation), and the words rules it added."""

from __future__ import annotations

import pytest

from shared.catalogue import Catalogue, parse_catalogue, tells_of_the_past
from shared.gazetteer import Gazetteer
from shared.queues import is_urgent
from tests.unit.router.test_catalogue_match import catalogue_of, classified, routed, rule, unsure
from tests.unit.router.test_routing import classified_call, route


@pytest.mark.parametrize(
    "text",
    [
        "昨晚厨房有燃气味，燃气公司来把阀门关了，现在没味了，说今天来人换管子",  # its 今天 is the repair, not the danger
        "早上楼道里有股煤气味，开窗通了会儿风，好像没什么味了",
        "酒吧门口每个周末都有人喝多了打架，今天倒是没事",
        "那个厂子一到夜里就往外排烟，呛得嗓子疼",
    ],
)
def test_a_danger_said_gone_now_or_a_habit_is_over(text: str) -> None:
    assert tells_of_the_past(text)


@pytest.mark.parametrize(
    "text",
    [
        "刚才开窗后没味了，可现在又闻到燃气味了",  # back again
        "燃气味一直散不掉，还在漏",
        "今天楼下有人打架，拿着刀",
        "屋里现在闻不到味了，可我妈晕在厨房，快来",  # the smell gone, a person down: help is asked now
        "我现在没事，我爸还困在电梯里",  # the caller unhurt is no quiet: nothing says the danger is gone
    ],
)
def test_a_danger_back_or_still_there_is_not_over(text: str) -> None:
    assert not tells_of_the_past(text)


def test_a_station_exit_said_as_where_something_is_does_not_name_the_subway(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("subway", keywords=["地铁"], skip_landmarks=True))
    assert routed(catalogue, gazetteer, classified(body="地铁站c口出来整条人行道全是单车")).rule_id == "fallback"
    assert routed(catalogue, gazetteer, classified(body="地铁b口出去那段路全是积水")).rule_id == "fallback"
    assert routed(catalogue, gazetteer, classified(body="地铁站c口的扶梯又坏了")).rule_id == "subway"


def test_an_unsure_call_whose_words_need_a_place_waits_for_manual_dispatch_not_sorting(gazetteer: Gazetteer) -> None:
    document = {
        "version": "t",
        "rules": [
            rule("noise-no-place", "manual", keywords=["噪音", "外机"]),
            rule("fallback", "manual"),
        ],
    }
    catalogue = parse_catalogue(document)
    assignment = routed(catalogue, gazetteer, unsure("隔壁饭馆的空调外机嗡嗡响，二十四小时不停"))
    assert (assignment.queue_id, assignment.rule_id) == ("manual:dispatch", "noise-no-place")
    assert routed(catalogue, gazetteer, unsure("想咨询一下政策")).queue_id == "manual:classification"
    strict = parse_catalogue({**document, "review": {"dispatch_by_words": False}})
    assert routed(strict, gazetteer, unsure("空调外机太吵")).queue_id == "manual:classification"


@pytest.mark.parametrize(
    ("body", "address", "lead"),
    [
        # Who supplies decides: a property's own boiler, a village's own water, a neighbour's damage to mediate.
        ("小区是物业自己的燃气锅炉房烧暖气，一到半夜就压火，暖气片冰凉", "海淀区海淀街道", "street:海淀区/海淀街道"),
        ("物业的锅炉房供暖一直不热", "海淀区", "department:市城市管理委员会"),
        ("我们村的自来水一天就来一会儿，水压小得上不了二楼", "顺义区北务镇", "street:顺义区/北务镇"),
        ("楼上暖气跑水把我家地板泡了，想请街道调解一下赔偿", "海淀区海淀街道", "street:海淀区/海淀街道"),
        # The unit that runs it: timetables, shared-bike fees, street lights, restaurant fumes, radiation.
        ("这条线路的公交车等了半小时不来，能不能增加班次", "海淀区海淀街道", "department:北京公交集团"),
        ("共享单车还车明明在停车点，还扣了我二十块调度费", "海淀区海淀街道", "department:市交通委员会"),
        ("路边的路灯坏了快一个月了，晚上黑漆漆的", "海淀区", "department:市城市管理委员会"),
        ("楼下饭馆的排烟口对着我家窗户，油烟直往屋里灌", "丰台区", "department:市城市管理综合行政执法局"),
        ("楼顶又装了个基站，大家担心辐射超标，请来测一测", "海淀区海淀街道", "department:市生态环境局"),
        # The thing asked about, not a word said in passing.
        ("公司入职半年一直没给交社保", "海淀区海淀街道", "department:市人力资源和社会保障局劳动保障监察总队"),
        (
            "The company has not paid me for two months",
            "海淀区海淀街道",
            "department:市人力资源和社会保障局劳动保障监察总队",
        ),
        ("生育津贴申报被退回来了，怎么办", "海淀区海淀街道", "department:市医疗保障局"),
        ("老板拖欠工资，请不起律师，怎么申请法律援助", "海淀区海淀街道", "department:市司法局"),
        ("新买的电动自行车去上牌，说车架号对不上", "海淀区海淀街道", "department:市公安局公安交通管理局"),
        ("车停在路边被一辆电动车蹭了，骑车的人跑了", "海淀区海淀街道", "department:市公安局公安交通管理局"),
        ("游泳馆的次卡还剩二十次，换了新老板不认了", "海淀区海淀街道", "department:市市场监督管理局"),
        (
            "The restaurant's menu said 58 but the bill was almost double",
            "海淀区海淀街道",
            "department:市市场监督管理局",
        ),
        ("药店不要处方就把安眠药卖给我家孩子", "海淀区海淀街道", "department:市药品监督管理局"),
        ("社区不给开居住证明，说房东不在北京", "海淀区海淀街道", "street:海淀区/海淀街道"),
        ("村里的账好几年没公开了，征地补偿款发了多少都不知道", "顺义区李桥镇", "street:顺义区/李桥镇"),
        ("承包的地流转给合作社，今年的钱一分没给", "大兴区长子营镇", "street:大兴区/长子营镇"),
        ("村里耕地上拉来好多渣土推平了，要盖大棚房", "大兴区庞各庄镇", "street:大兴区/庞各庄镇"),
        ("邻居养的几条大狗不拴，在街上乱跑", "昌平区南邵镇", "street:昌平区/南邵镇"),
        ("村干部把村里的房子低价租给自己亲戚", "顺义区高丽营镇", "department:市纪委市监委"),
        ("城管的一个队员每个月找摊贩收钱，不给就罚款", "朝阳区小红门乡", "department:市纪委市监委"),
    ],
)
def test_the_seventh_rounds_words_rules(
    catalogue: Catalogue, gazetteer: Gazetteer, body: str, address: str, lead: str
) -> None:
    call = classified_call("城乡建设", body=body, address=address, confidence=0.35, needs_review=True)
    assignment = route(catalogue, gazetteer, call)
    assert assignment.queue_id == lead, assignment.reason
    assert not is_urgent(assignment.priority)


@pytest.mark.parametrize(
    ("body", "lead"),
    [
        ("商场停车场一辆车里锁着个小孩，一直在哭，满头是汗", "department:市消防救援总队"),
        ("桥下积水已经到车窗了，司机还在车里拍窗户", "department:市消防救援总队"),
        ("扶梯突然倒转，有个老人头磕破了在流血", "department:市卫生健康委员会"),
        ("A man fell down in the bar, he is shaking all over and his lips are blue", "department:市卫生健康委员会"),
        ("地铁口有个老大爷问他家在哪说不清楚，冻得直哆嗦", "department:市公安局"),
        ("刮大风，门口的大杨树树根都翘起来了，歪着要倒，下面是电线", "street:海淀区/海淀街道"),
        ("塔吊吊着一捆钢筋在半空中晃，底下就是人行道", "street:海淀区/海淀街道"),
    ],
)
def test_the_seventh_rounds_dangers_are_urgent(
    catalogue: Catalogue, gazetteer: Gazetteer, body: str, lead: str
) -> None:
    call = classified_call("城乡建设", body=body, address="海淀区海淀街道", confidence=0.35, needs_review=True)
    assignment = route(catalogue, gazetteer, call)
    assert assignment.queue_id == lead, assignment.reason
    assert is_urgent(assignment.priority)
