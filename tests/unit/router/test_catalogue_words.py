"""Words a rule does not take at face value (a danger said as a supposition, a unit's word said as a landmark), and
the catalogue's words found once per call (``Catalogue.words_in``) and tested rule by rule against that set
(``Match.words_match`` with ``present``): the same decisions as each rule scanning the text itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.catalogue import CatalogueError, load_catalogue
from shared.gazetteer import Gazetteer
from tests.unit.router.test_catalogue_match import catalogue_of, classified, findings_of, routed, rule, text_rule

DATA = Path(__file__).parents[2] / "data"


def dispatch_set_texts() -> list[str]:
    """Subject and body of every call of the dispatch sets, lower-cased as the router reads them."""
    texts = []
    for path in sorted(DATA.glob("dispatch_calls*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                call = json.loads(line)
                texts.append(f"{call.get('subject', '')}\n{call['body']}".lower())
    return texts


def test_every_shipped_rule_decides_the_same_with_the_words_found_once_as_by_its_own_scans() -> None:
    # The one-pass test of presence must change no decision: over the 1,595 dispatch-set calls and each of the 207
    # rules (background phrases, suppositions, near, landmarks, past markers included), both ways agree.
    catalogue = load_catalogue()
    texts = dispatch_set_texts()
    assert len(texts) > 1500
    disagreements = []
    matched = 0
    for text in texts:
        present = catalogue.words_in(text)
        for shipped in catalogue.rules:
            alone = shipped.match.words_match(text)
            matched += alone
            if shipped.match.words_match(text, present) != alone:
                disagreements.append((shipped.id, text[:40]))
    assert disagreements == []
    assert matched > len(texts)  # the rules do match: the comparison is not between two 'no's


def test_the_words_found_are_every_catalogue_word_in_the_text_overlaps_included() -> None:
    catalogue = catalogue_of(
        rule("gas", keywords=["燃气", "燃气泄漏"], and_keywords=["漏"], unless=["演习"]),
        rule("fire", keywords=["fire"]),
    )
    assert catalogue.words_in("家里燃气泄漏了，bonfire") == {"燃气", "燃气泄漏", "漏", "fire"}
    assert catalogue.words_in("消防演习") == {"演习"}
    assert catalogue.words_in("请尽快处理") == frozenset()
    # A copy with other rules finds its own words, not the original's.
    other = catalogue.model_copy(update={"rules": catalogue_of(rule("lift", keywords=["电梯"])).rules})
    assert other.words_in("电梯坏了，燃气泄漏") == {"电梯"}
    assert catalogue.words_in("电梯坏了，燃气泄漏") == {"燃气", "燃气泄漏", "漏"}


def test_a_rule_with_an_unless_word_or_without_its_keywords_fails_on_the_set_alone() -> None:
    catalogue = catalogue_of(rule("gas", keywords=["燃气"], and_keywords=["漏"], unless=["演习"]))
    gas = catalogue.rules[0].match
    for text, expected in [
        ("燃气漏了", True),
        ("燃气演习，假装漏了", False),
        ("燃气表坏了", False),
        ("水管漏了", False),
    ]:
        assert gas.words_match(text, catalogue.words_in(text)) is expected, text
        assert gas.words_match(text) is expected, text


def test_a_keyword_may_not_hold_the_comma_that_blanked_phrases_become() -> None:
    with pytest.raises(CatalogueError, match="full-width comma"):
        catalogue_of(rule("bad", keywords=["着火，快"]))


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
