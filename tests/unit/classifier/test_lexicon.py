"""Levels 2/3 and the 8 unlearned level-1 classes by the hand-written lexicon, measured on a team-written set."""

from __future__ import annotations

import numpy as np
import pytest

from services.classifier.evaluation import LEVELS_SET, agreement, read_labelled_jsonl, threshold_table
from services.classifier.features import message_text
from services.classifier.model import Classifier
from services.classifier.taxonomy import BranchMatcher, LexiconEvidence, Term, load_synonyms
from shared.reference import load_taxonomy


@pytest.fixture(scope="module")
def model() -> Classifier:
    return Classifier.load()


def test_every_level1_category_has_lexicon_words() -> None:
    covered = {key.split("/")[0] for key in load_synonyms()}
    assert covered == set(load_taxonomy())


def test_extra_english_keys_merge_into_their_category() -> None:
    words = load_synonyms()["交通运输/建设管理/设施维护"]
    assert "坑洼" in words and "pothole" in words


def test_latin_words_match_whole_words_only() -> None:
    assert Term("tax").found_in("i pay too much tax.")
    assert not Term("tax").found_in("the taxi driver")
    assert not Term("tree").found_in("on elm street")
    assert Term("低保").found_in("申请低保")


def test_a_long_specific_word_counts_more_and_nested_words_count_once() -> None:
    assert LexiconEvidence("民政", ("婚姻登记",)).strength == 1.5
    assert LexiconEvidence("民政", ("低保", "农村低保")).strength == 1.5
    assert LexiconEvidence("民政", ("低保", "殡葬")).strength == 2.0


def test_strong_lexicon_evidence_for_an_unlearned_class_is_a_hint_not_the_decision(model: Classifier) -> None:
    # Issue 11: the lexicon used to replace the model's answer here (category 民政 at a fixed 0.45); it moved
    # messages the model had right. Now the model's answer stays and the reviewer gets the hint.
    assert "民政" in model.unlearned_classes
    text = ("婚姻登记排队", "去民政局婚姻登记处办理结婚证，每天只发三十个号")
    [decision] = model.predict([text])
    [(alone, _)] = model.decide_texts([message_text(*text)])
    assert decision.category in model.classes and decision.category == alone.category
    assert decision.suggested_category == "民政"
    assert "婚姻登记" in decision.suggested_terms
    assert decision.needs_review
    assert decision.confidence == pytest.approx(float(model.predict_proba([message_text(*text)]).max()), abs=1e-4)


def test_a_confident_learned_answer_gets_no_hint(model: Classifier) -> None:
    [decision] = model.predict([("公司拖欠工资三个月", "老板拖欠我们十几个工人三个月工资，请劳动监察帮忙讨薪")])
    assert decision.category == "劳动和社会保障" and decision.suggested_category is None
    assert decision.suggested_terms == []


def test_weak_lexicon_evidence_leaves_the_model_decision(model: Classifier) -> None:
    [decision] = model.predict([("工地拖欠工资", "老板拖欠我们三个月工资，派出所说不归他们管")])
    assert decision.category == "劳动和社会保障"


def test_branch_matcher_picks_the_item_from_its_synonyms() -> None:
    matcher = BranchMatcher(load_taxonomy(), load_synonyms())
    assert matcher.match("政法", "我的护照和签证办理太慢") == ("户籍证件", "出入境管理")
    assert matcher.match("农村农业", "邻居占了我家宅基地") == ("土地承包经营", "宅基地纠纷")


def test_team_written_set_has_at_least_60_rows_over_all_15_classes() -> None:
    rows = read_labelled_jsonl(LEVELS_SET)
    assert len(rows) >= 60
    assert {row["category"] for row in rows} == set(load_taxonomy())
    tree = load_taxonomy()
    for row in rows:
        assert row["item"] in tree[row["category"]][row["subcategory"]], row["id"]


def test_levels_agree_with_the_team_labels_well_enough(model: Classifier) -> None:
    figures = agreement(model, read_labelled_jsonl(LEVELS_SET))
    # Floors well under today's figures (docs/classifier.md): a regression guard, not a target.
    assert figures["learned_classes"]["level1_accuracy"] >= 0.85
    # Unlearned classes can no longer be decided by the lexicon (issue 11): they must at least be hinted.
    assert figures["unlearned_classes"]["hinted_share"] >= 0.5
    assert figures["unlearned_classes"]["level1_accuracy"] == 0.0
    assert figures["all"]["level2_given_level1"] >= 0.8


def test_threshold_table_counts_manual_share_and_accuracy_of_the_rest() -> None:
    confidence = np.array([0.2, 0.45, 0.55, 0.95])
    correct = np.array([False, False, True, True])
    by_threshold = {row["threshold"]: row for row in threshold_table(confidence, correct, (0.3, 0.5, 0.9))}
    assert by_threshold[0.3] == {
        "threshold": 0.3,
        "manual_share": 0.25,
        "accuracy_of_rest": round(2 / 3, 4),
        "errors_routed_per_1000": 250.0,
    }
    assert by_threshold[0.5]["manual_share"] == 0.5 and by_threshold[0.5]["accuracy_of_rest"] == 1.0
    assert by_threshold[0.9]["manual_share"] == 0.75


def test_a_class_learned_from_only_a_few_rows_still_gets_the_lexicon_rule(model: Classifier) -> None:
    few = Classifier(
        vocabulary=model.vocabulary,
        coef=model.coef,
        intercept=model.intercept,
        classes=model.classes,
        temperature=model.temperature,
        model_version="test",
        metadata={"data": {"class_counts": {**{name: 500 for name in model.classes}, "城乡建设": 3}}},
    )
    assert "城乡建设" in few.unlearned_classes and "民政" in few.unlearned_classes
    assert "劳动和社会保障" not in few.unlearned_classes
