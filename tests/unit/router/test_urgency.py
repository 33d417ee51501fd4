"""The learned urgency scorer and how routing combines it with the catalogue's life-or-safety rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.router.routing import URGENT_RESPONSE_HOURS, route
from services.router.urgency import EXAMPLES_PATH, UrgencyScorer, example_rows
from shared.catalogue import Catalogue
from shared.gazetteer import Gazetteer
from shared.queues import URGENT_PRIORITY, is_urgent
from tests import factories

NOW = datetime(2025, 5, 12, 2, 30, tzinfo=UTC)
EXAMPLES = [
    ("楼里着火了冒黑烟", True),
    ("有人拿刀砍人", True),
    ("老人晕倒在地叫不醒", True),
    ("电梯里困着人出不来", True),
    ("路灯坏了一个星期", False),
    ("物业费涨价了", False),
    ("公交车来得太慢", False),
    ("想问问怎么办居住证", False),
]


def test_the_scorer_rates_danger_above_everyday_requests_and_flags_from_its_threshold() -> None:
    scorer = UrgencyScorer.train(EXAMPLES, threshold=0.5)
    danger, everyday = scorer.scores(["着火了，黑烟往外冒", "路灯坏了好几天"])
    assert danger > 0.5 > everyday
    calls = [factories.call("U-1", body="着火了，黑烟往外冒"), factories.call("U-2", body="路灯坏了好几天")]
    flagged, plain = scorer.flags(calls)
    assert flagged is not None and flagged >= 0.5 and plain is None
    strict = UrgencyScorer.train(EXAMPLES, threshold=0.99)
    assert strict.flags(calls) == [None, None]
    assert scorer.scores([]) == []


def test_the_scorer_needs_both_kinds_of_example_and_well_formed_lines(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both urgent and normal"):
        UrgencyScorer.train([(text, True) for text, _ in EXAMPLES], threshold=0.5)
    bad = tmp_path / "examples.jsonl"
    bad.write_text(json.dumps({"text": "着火了", "urgent": "yes"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"examples.jsonl:1: expected"):
        example_rows(bad)


def test_the_shipped_examples_are_the_teams_labelled_calls_of_both_kinds() -> None:
    rows = example_rows(EXAMPLES_PATH)
    assert len(rows) >= 2000
    assert 0.15 <= sum(urgent for _, urgent in rows) / len(rows) <= 0.5  # the dispatch sets' share, and more


def test_a_flagged_call_no_rule_made_urgent_becomes_urgent_in_its_own_queue(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    call = factories.call("U-3", body="路灯坏了一个星期", address="朝阳区望京街道")
    classification = factories.classification("城乡建设")
    plain = route(call, classification, catalogue, gazetteer, NOW)
    flagged = route(call, classification, catalogue, gazetteer, NOW, learned_urgency=0.8)
    assert not is_urgent(plain.priority)
    assert flagged.queue_id == plain.queue_id and flagged.rule_id == plain.rule_id
    assert flagged.priority == URGENT_PRIORITY
    assert flagged.response_due_at == NOW + timedelta(hours=URGENT_RESPONSE_HOURS)
    assert flagged.resolution_due_at == NOW + timedelta(days=1)  # the life-or-safety rules' day, not the street's
    assert "learned urgency scorer (p=0.80)" in flagged.reason


def test_an_unsure_flagged_call_waits_for_review_at_the_top_of_the_queue(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    unsure = factories.classification("城乡建设", confidence=0.3, needs_review=True)
    for address in (None, "朝阳区望京街道"):  # an urgent call never goes to the street by review.street_first
        call = factories.call("U-4", body="请尽快处理", address=address)
        flagged = route(call, unsure, catalogue, gazetteer, NOW, learned_urgency=0.9)
        assert flagged.queue_id == "manual:classification" and flagged.priority == URGENT_PRIORITY


def test_an_unsure_flagged_call_goes_to_the_unit_a_requires_urgency_rule_names_by_its_words(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    """Urgency does not wait for a confident category, nor for the unit: once the scorer judged the call urgent,
    weaker words (a pain, a person going under) say which emergency service acts."""
    unsure = factories.classification("商贸旅游", confidence=0.27, needs_review=True)
    heart = factories.call("U-6", body="我爸说心口疼得像被人攥着一样，一脑门子冷汗", address="石景山区老山街道")
    assert route(heart, unsure, catalogue, gazetteer, NOW).queue_id == "street:石景山区/老山街道"  # 属地, not urgent
    flagged = route(heart, unsure, catalogue, gazetteer, NOW, learned_urgency=0.82)
    assert flagged.queue_id == "department:市卫生健康委员会" and flagged.rule_id == "urgent-responder-medical"
    assert flagged.priority == URGENT_PRIORITY
    sinking = factories.call("U-7", body="水库边上有个小伙子游着游着就往下沉，只露个脑袋在扑腾", address="怀柔区雁栖镇")
    assert (
        route(sinking, unsure, catalogue, gazetteer, NOW, learned_urgency=0.84).queue_id == "department:市消防救援总队"
    )
    dog = factories.call("U-10", body="一条大狼狗把放学的小孩扑倒了，咬着胳膊不松口", address="顺义区旺泉街道")
    assert route(dog, unsure, catalogue, gazetteer, NOW, learned_urgency=0.9).queue_id == "department:市公安局"
    # A danger at power equipment is the power company's, even when a dog is the one it struck; a child shut in
    # a car in the sun is the fire service's rescue.
    lamp = factories.call(
        "U-11", body="路灯杆底下的铁盖子开着泡在水里，刚才一条狗走过去就倒那了", address="朝阳区望京街道"
    )
    assert (
        route(lamp, unsure, catalogue, gazetteer, NOW, learned_urgency=0.9).queue_id == "department:国网北京市电力公司"
    )
    car = factories.call("U-12", body="停车场一辆车里有个小孩，车窗都关着，晒了一个钟头了", address="朝阳区望京街道")
    assert route(car, unsure, catalogue, gazetteer, NOW, learned_urgency=0.9).queue_id == "department:市消防救援总队"
    confident = factories.classification("城乡建设")
    spurting = factories.call("U-8", body="马路中间裂开一道口子，水柱子喷起来两米高", address="西城区牛街街道")
    assert route(spurting, confident, catalogue, gazetteer, NOW).queue_id != "department:北京市自来水集团"
    assert (
        route(spurting, confident, catalogue, gazetteer, NOW, learned_urgency=0.79).queue_id
        == "department:北京市自来水集团"
    )


def test_the_scorer_makes_no_call_urgent_that_tells_of_a_danger_over_or_denied(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    classification = factories.classification("交通运输")
    for body in ("前两天路上那个塌下去的坑已经填上了，就是高出来一块", "没着火啊，就是楼下烧烤店的烟太大了"):
        call = factories.call("U-9", body=body, address="丰台区成寿寺街道")
        plain = route(call, classification, catalogue, gazetteer, NOW)
        assert route(call, classification, catalogue, gazetteer, NOW, learned_urgency=0.7) == plain
        assert not is_urgent(plain.priority)


def test_a_rule_urgent_call_keeps_the_rules_decision(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    call = factories.call("U-5", body="楼道里燃气泄漏，味道很大", address="朝阳区望京街道")
    classification = factories.classification("城乡建设")
    by_rule = route(call, classification, catalogue, gazetteer, NOW)
    assert route(call, classification, catalogue, gazetteer, NOW, learned_urgency=0.9) == by_rule
    assert by_rule.rule_id == "urgent-gas-leak"


def test_the_numpy_scorer_gives_sklearns_probabilities_on_every_kind_of_text() -> None:
    """``UrgencyScorer.scores`` evaluates the fitted TF-IDF and model in numpy; sklearn's own pipeline is the
    reference, on the team's labelled calls and on texts with spaces, mixed case, ideographic spaces and none."""
    scorer = UrgencyScorer.load()
    texts = [text for text, _ in example_rows(EXAMPLES_PATH)]
    texts += [
        "",
        "   ",
        "a",
        "ab c",
        "Gas LEAK at 3 Sanlitun Rd!!  help\u3000now",
        "煤气 泄漏\n\t味道很大 A座",
        "x" * 5,
    ]
    column = list(scorer.model.classes_).index(True)
    reference = scorer.model.predict_proba(scorer.vectorizer.transform(texts))[:, column]
    assert scorer.scores(texts) == pytest.approx(list(reference), abs=1e-12)
    assert scorer.scores(texts[:1]) == pytest.approx(list(reference[:1]), abs=1e-12)


def test_a_calm_scorer_sets_the_life_or_safety_rules_aside(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    """A letter that tells of a fire years ago: the rules' words alone no longer make it urgent when the scorer is
    sure nothing is happening now; the next rule routes it at its own priority and the reason says so."""
    call = factories.call(
        "U-10",
        body="2011年10月30日凌晨，学校宿舍楼前的车辆全都起火了，火光冲天，我们用掉16个灭火器才扑灭。学校的安全要如何保障？",
        address="朝阳区望京街道",
    )
    classification = factories.classification("城乡建设")
    by_rule = route(call, classification, catalogue, gazetteer, NOW)
    calm = route(call, classification, catalogue, gazetteer, NOW, learned_calm=True)
    assert is_urgent(by_rule.priority) and by_rule.rule_id is not None
    assert not is_urgent(calm.priority) and calm.rule_id != by_rule.rule_id
    assert f"life-or-safety rule {by_rule.rule_id} set aside" in calm.reason
    # Unsure calls too: the words rule that would have taken it before review is set aside.
    unsure = classification.model_copy(update={"needs_review": True, "confidence": 0.3})
    assert is_urgent(route(call, unsure, catalogue, gazetteer, NOW).priority)
    assert not is_urgent(route(call, unsure, catalogue, gazetteer, NOW, learned_calm=True).priority)


def test_the_scorer_is_calm_under_its_bound_only() -> None:
    calls = [factories.call("U-1", body="着火了，黑烟往外冒"), factories.call("U-2", body="路灯坏了好几天")]
    scorer = UrgencyScorer.train(EXAMPLES, threshold=0.5, calm_below=0.45)
    danger, everyday = scorer.judge(calls)
    assert danger.flag is not None and not danger.calm
    assert everyday.flag is None and everyday.calm
    never = UrgencyScorer.train(EXAMPLES, threshold=0.5)  # calm_below 0: the rules' words always count
    assert not any(judgement.calm for judgement in never.judge(calls))
    assert [judgement.flag for judgement in never.judge(calls)] == never.flags(calls)
