"""Words a rule does not take at face value: a danger said as a supposition, a unit's word said as a landmark."""

from __future__ import annotations

import pytest

from shared.gazetteer import Gazetteer
from tests.unit.router.test_catalogue_match import catalogue_of, classified, findings_of, routed, rule, text_rule


@pytest.mark.parametrize(
    ("body", "urgent"),
    [
        ("天天有车堵消防通道，真着火了怎么办", False),
        ("楼道堆满纸箱，万一着火了都跑不出去", False),
        ("what happens if there is a fire in this building", False),
        ("楼下着火了，快来", True),
        ("主要是着火了，烟很大", True),  # 主要是 is no supposition
    ],
)
def test_a_danger_said_as_a_supposition_is_not_one_happening_now(gazetteer: Gazetteer, body: str, urgent: bool) -> None:
    catalogue = catalogue_of(rule("fire", keywords=["着火", "fire"], now_only=True))
    assert (routed(catalogue, gazetteer, classified(body=body)).rule_id == "fire") is urgent


def test_a_word_said_as_a_landmark_does_not_name_the_unit(gazetteer: Gazetteer) -> None:
    catalogue = catalogue_of(rule("health", keywords=["医院", "hospital"], skip_landmarks=True))
    assert routed(catalogue, gazetteer, classified(body="医院收费太贵了")).rule_id == "health"
    assert routed(catalogue, gazetteer, classified(body="医院旁边的停车场一小时十五块")).rule_id == "fallback"
    assert routed(catalogue, gazetteer, classified(body="医院门口摆摊的太多")).rule_id == "fallback"
    assert routed(catalogue, gazetteer, classified(body="parking near the hospital is too dear")).rule_id == "fallback"
    # a landmark and the thing itself: the call is about the hospital
    assert routed(catalogue, gazetteer, classified(body="医院门口排队，医院挂号太难")).rule_id == "health"
    plain = catalogue_of(rule("health", keywords=["医院"]))
    assert routed(plain, gazetteer, classified(body="医院旁边的停车场一小时十五块")).rule_id == "health"


def test_a_rule_reading_past_landmarks_shadows_no_plain_one() -> None:
    landmarks = text_rule("landmarks", "{keywords: [医院], skip_landmarks: true}")
    assert findings_of(landmarks, text_rule("plain", "{keywords: [医院]}", "department:市水务局")) == []
