"""The eighth dispatch round's causes (fresh9): a word said in passing does not take the call — as who the caller is
(background: '农村户口'), where someone went ('去镇上医院看病'), a place ('公交站也在那儿', '地铁站出来'), the hotline greeted
('是那个什么热线吧'); a habit taken up again and a day before told with what came after are not dangers now; an
unsure call sent to its street names no rule; and the words rules and dangers the round added."""

from __future__ import annotations

import pytest

from shared.catalogue import Catalogue, tells_of_the_past
from shared.gazetteer import Gazetteer
from shared.queues import is_urgent
from tests import factories
from tests.unit.router.test_catalogue_match import catalogue_of, classified, routed, rule, unsure
from tests.unit.router.test_routing import classified_call, route


def test_a_background_phrase_is_looked_past_but_another_keyword_still_takes_the_call(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("police", "department:市公安局", keywords=["户口", "落户"], background=["农村户口"]))
    assert routed(catalogue, gazetteer, classified(body="我是农村户口，想问养老保险能不能补缴")).rule_id == "fallback"
    assert routed(catalogue, gazetteer, classified(body="我是农村户口，孩子落户要什么材料")).rule_id == "police"
    assert routed(catalogue, gazetteer, classified(body="户口迁移办不了")).rule_id == "police"


@pytest.mark.parametrize(
    ("body", "taken"),
    [
        ("村里老人去镇上医院看病，公交一天就一趟", False),  # where they go, not what the call is about
        ("前天吃完烤鱼拉肚子，去医院说是肠胃炎", False),
        ("底下就是马路，医院也在那儿", False),  # a place
        ("医院挂号排了三个小时", True),
        ("去医院挂号排了三个小时，没人管", True),  # 挂号 is what it is about (no destination word after)
    ],
)
def test_a_word_said_as_a_destination_or_a_place_is_a_landmark(gazetteer: Gazetteer, body: str, taken: bool) -> None:
    catalogue = catalogue_of(
        rule("health", "department:市卫生健康委员会", keywords=["医院", "挂号"], skip_landmarks=True)
    )
    assert (routed(catalogue, gazetteer, classified(body=body)).rule_id == "health") is taken


def test_an_item_rule_naming_the_subway_skips_a_station_said_as_a_place(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    subway = "department:北京市地铁运营有限公司"
    for body, lead in (
        ("地铁站B口出来那块地方，共享单车堆得跟山一样", "street:海淀区/中关村街道"),
        ("从地铁站出来到小区没有公交，能不能开个接驳线", "department:市交通委员会"),
        ("地铁站B口的扶梯坏了一个星期", subway),
    ):
        call = factories.classified(
            factories.call("T-8", body=body, address="海淀区中关村街道"),
            factories.classification("城乡建设", subcategory="城市建设和市政管理", item="地铁城铁"),
        )
        assert routed(catalogue, gazetteer, call).queue_id == lead, body


@pytest.mark.parametrize(
    "text",
    [
        "上个月砖厂夜里排黑烟，后来是停了。这几天又开始了，还是半夜偷着烧",  # a habit taken up again
        "外头的车半夜来倒建筑垃圾，有时候还点火烧",
        "前天晚上大风，楼前一棵树折了砸我车上了，第二天一早就来给锯走了",  # a day before, and what came after
        "昨天楼上水管爆了，后来物业把总阀关了，现在不流了",
        "前天井盖没了，我妈踩进去了，现在有人拿块木板盖上了",
    ],
)
def test_a_habit_resumed_or_a_day_before_told_with_what_came_after_is_over(text: str) -> None:
    assert tells_of_the_past(text)


@pytest.mark.parametrize(
    "text",
    [
        "平房里昨晚生了炉子，早上起来我和我爱人都头晕得站不住",  # the day before names the cause; the harm is now
        "从昨天开始楼道里就有煤气味，越来越大",
        "昨天晚上开始漏水，后来越来越大",  # began then and goes on
        "前天晚上水管爆了，后来物业来过，现在还在往外喷",
        "昨天漏过一次水，后来修好了，今天又漏了，哗哗往外喷",
        "这几天燃气味一直有，刚才又闻到了",
    ],
)
def test_a_danger_now_is_not_over(text: str) -> None:
    assert not tells_of_the_past(text)


def test_an_unsure_call_sent_to_its_street_names_no_rule(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    call = classified_call(
        "商贸旅游", body="想问一下这个事归谁管", address="丰台区丰台街道", confidence=0.3, needs_review=True
    )
    assignment = route(catalogue, gazetteer, call)
    assert assignment.queue_id == "street:丰台区/丰台街道"
    assert assignment.rule_id is None  # not the template rule its deadlines come from (night-construction-noise)
    assert assignment.resolution_due_at is not None


def test_the_hotline_greeted_is_not_a_complaint_about_it(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("hotline", keywords=["热线"], background=["热线吧"]))
    assert routed(catalogue, gazetteer, unsure("喂，是那个什么热线吧？厂子搬走了也不给补偿")).rule_id != "hotline"
    assert routed(catalogue, gazetteer, unsure("热线打了十遍都没人接")).rule_id == "hotline"


@pytest.mark.parametrize(
    ("body", "address", "lead"),
    [
        ("我们村通往镇上那条村村通的路全是大坑，一直没修", "通州区漷县镇", "street:通州区/漷县镇"),
        ("今年的耕地地力保护补贴，我们村到现在还没发", "通州区于家务回族乡", "street:通州区/于家务回族乡"),
        ("我是农村户口，交的城乡居民养老保险，能补缴吗", "怀柔区汤河口镇", "department:市人力资源和社会保障局"),
        ("我是北京户口，孩子落户派出所说还得材料", "丰台区东高地街道", "department:市公安局"),
        ("My residence permit expires soon and the exit-entry office has no slots", "顺义区", "department:市公安局"),
        ("Construction on Jianguo Road is drilling past midnight every night, I can't sleep", "朝阳区", None),
        ("楼道里堆满了纸箱子，还有人放煤气罐，物业不管", "海淀区北太平庄街道", "street:海淀区/北太平庄街道"),
        ("小区门口有人开讲座，说投资养老项目年息百分之十五", "石景山区八角街道", "department:市地方金融管理局"),
        ("街道有个科长上班时间在外面棋牌室打牌", "朝阳区八里庄街道", "department:市纪委市监委"),
        ("树林里老有人下夹子、套子逮野鸡", "密云区石城镇", "department:市园林绿化局"),
        ("摘完桃称的时候说是蟠桃要二十五一斤，不给钱不让走", "平谷区刘家店镇", "department:市市场监督管理局"),
        ("厂子搬走了也不给补偿，我没自己走", "大兴区采育镇", "department:市人力资源和社会保障局劳动保障监察总队"),
    ],
)
def test_the_eighth_rounds_words_rules(
    catalogue: Catalogue, gazetteer: Gazetteer, body: str, address: str, lead: str | None
) -> None:
    call = classified_call("劳动和社会保障", body=body, address=address, confidence=0.35, needs_review=True)
    assignment = route(catalogue, gazetteer, call)
    assert assignment.queue_id == (lead or "department:市住房和城乡建设委员会"), assignment.reason
    assert not is_urgent(assignment.priority)


@pytest.mark.parametrize(
    ("body", "lead"),
    [
        ("村东头沟里水往上涨，我爸妈还在老院子里出不来，水都进屋了到膝盖了", "department:市消防救援总队"),
        ("采蘑菇走迷了，在山上林子里，一个大姐脚崴了，手机就剩一格信号", "department:市消防救援总队"),
        ("We are hiking on the wild Great Wall and my friend fell and hurt his ankle", "department:市消防救援总队"),
        ("机井盖板让人掀了，邻居家小孙子掉下去了，能听见他在底下哭", "department:市消防救援总队"),
        ("冰面上有孩子滑冰，刚才有一个掉冰窟窿里了", "department:市消防救援总队"),
        ("刚才有个人在扒我家窗户防盗网，现在还在楼后头转悠", "department:市公安局"),
        ("一头野猪闯到村小学院里来了，孩子们都在教室里", "department:市公安局"),
        ("有人卸了十几个铁桶，在漏，味儿刺鼻子，好几个人头晕", "department:市消防救援总队"),
        ("村里烧煤炉子取暖，大爷门窗关得严严实实歪在炕上，叫半天才哼一声，说脑袋疼想吐", "department:市卫生健康委员会"),
        ("单元门那儿暖气管子崩了，热水往外喷，整个楼道全是白气", "department:北京市热力集团"),
        ("房顶上的彩钢板风一刮呼扇呼扇的，底下就是马路，公交站也在那儿，眼看要刮飞了", "street:顺义区/杨镇"),
    ],
)
def test_the_eighth_rounds_dangers_are_urgent(catalogue: Catalogue, gazetteer: Gazetteer, body: str, lead: str) -> None:
    call = classified_call("城乡建设", body=body, address="顺义区杨镇", confidence=0.35, needs_review=True)
    assignment = route(catalogue, gazetteer, call)
    assert assignment.queue_id == lead, assignment.reason
    assert is_urgent(assignment.priority)


@pytest.mark.parametrize(
    "body",
    [
        "包工头失联了，总包说钱早拨给他了，二十多个人等着工钱",  # a debtor gone is no missing person
        "桃树叶子全黄了，一片一片往下掉，怀疑是假化肥",  # leaves falling are no collapse
        "那个井盖掉下去了一半，晚上看不清",  # the cover, not a person (urgent by the manhole rules, not to 消防)
    ],
)
def test_words_said_of_something_else_are_not_these_dangers(
    catalogue: Catalogue, gazetteer: Gazetteer, body: str
) -> None:
    call = classified_call("城乡建设", body=body, address="顺义区杨镇", confidence=0.35, needs_review=True)
    assignment = route(catalogue, gazetteer, call)
    assert assignment.rule_id not in ("urgent-person-in-danger", "urgent-structure-street", "urgent-fallen-into-well")
