"""The batch shortcuts of the classifier's lexical steps give the same answers as the plain per-text ones, and
the selection split stays out of every reported test fold."""

from __future__ import annotations

import numpy as np
import pytest

from services.classifier.augment import AUGMENTATIONS, augment_rows
from services.classifier.features import BigramFilter, fit_vocabulary, message_text
from services.classifier.issues import keyword_openings, load_monthly_questions, match_monthly_question
from services.classifier.model import Classifier
from services.classifier.taxonomy import BranchMatcher, level1_names, load_synonyms, text_bigrams
from services.classifier.validation import reporting_folds, selection_split
from shared.reference import load_taxonomy

TEXTS = [
    message_text("工资拖欠", "公司拖欠我们三个月工资，老板不接电话，农民工讨薪难"),
    message_text("", "小区停水两天了，自来水公司不回电话，楼道灯也坏了"),
    message_text("Noise at night", "The bar downstairs plays loud music until 3am, Sanlitun, Chaoyang District"),
    message_text("", ""),
    message_text("学校", "孩子学校强制补课收费，幼儿园学费上涨"),
    message_text("", "煤气泄漏了，闻到很重的燃气味"),
]


@pytest.fixture(scope="module")
def model() -> Classifier:
    return Classifier.load()


def test_the_bigram_filter_finds_exactly_the_texts_bigrams_of_its_set() -> None:
    wanted = ["拖欠", "停水", "ba", "学费", "燃气", "不在"]
    found = BigramFilter(wanted).present(TEXTS)
    for text, bigrams in zip(TEXTS, found, strict=True):
        assert bigrams == text_bigrams(text) & set(wanted)


def test_lexical_steps_answer_the_same_with_the_filtered_bigrams() -> None:
    matcher = BranchMatcher(load_taxonomy(), load_synonyms())
    questions = load_monthly_questions()
    bigram_filter = BigramFilter(sorted(matcher.relevant_bigrams() | keyword_openings(questions)))
    for text, bigrams in zip(TEXTS, bigram_filter.present(TEXTS), strict=True):
        for level1 in level1_names():
            assert matcher.rank(level1, text, bigrams) == matcher.rank(level1, text)
            assert matcher.evidence(level1, text, bigrams) == matcher.evidence(level1, text)
            assert match_monthly_question(text, questions, level1, bigrams) == match_monthly_question(
                text, questions, level1
            )


def test_features_of_an_empty_batch_member_are_an_empty_row() -> None:
    vocabulary = fit_vocabulary(["停水停电", "停水了", "停电了"], max_features=50, min_df=1)
    matrix = vocabulary.transform(["", "停水", "\x1e"])
    assert matrix.shape == (3, len(vocabulary.keys))
    assert np.diff(matrix.indptr).tolist()[0] == 0 and np.diff(matrix.indptr).tolist()[2] == 0
    assert np.isclose(np.sqrt(matrix[1].multiply(matrix[1]).sum()), 1.0)


def test_explanations_prefer_the_longer_of_equally_strong_ngrams(model: Classifier) -> None:
    decision = model.predict([("拖欠工资", "公司拖欠工资三个月")])[0]
    assert decision.explanation
    for term in decision.explanation:
        assert not any(term != other and term in other for other in decision.explanation)


def test_the_selection_split_is_never_in_a_reported_test_fold_and_groups_stay_whole() -> None:
    rng = np.random.default_rng(2)
    labels = np.array(["a"] * 300 + ["b"] * 200)
    groups = np.concatenate([rng.integers(0, 150, 300), rng.integers(150, 260, 200)])
    rest, selection = selection_split(labels.tolist(), groups)
    assert not set(groups[rest]) & set(groups[selection])
    assert 0.1 < len(selection) / len(labels) < 0.3
    folds = reporting_folds(labels.tolist(), groups, seed=42)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == sorted(rest.tolist())
    for train, test in folds:
        assert set(selection) <= set(train)
        assert not set(groups[train]) & set(groups[test])


@pytest.mark.parametrize("kind", AUGMENTATIONS)
def test_augmented_copies_keep_the_label_and_weight_and_are_reproducible(kind: str) -> None:
    rows = [("小区停水", "尊敬的领导您好！小区停水两天了。物业不管。请帮忙。", "城乡建设")]
    first = augment_rows(rows, [(kind, 0.3)], seed=1)
    assert first == augment_rows(rows, [(kind, 0.3)], seed=1)
    ((subject, body, label, weight),) = first
    assert label == "城乡建设" and weight == 0.3 and body
    if kind != "truncate":
        assert subject == ""


def test_the_bigrams_taken_from_the_feature_ngrams_equal_the_texts_own(model: Classifier) -> None:
    bigram_filter = model.bigram_filter
    assert bigram_filter.ignores_joins and model.vocabulary.reads_whole_text
    shared = bigram_filter.present(TEXTS, model.vocabulary.whole_ngrams(TEXTS))
    assert shared == bigram_filter.present(TEXTS)
    assert model.vocabulary.transform(TEXTS, model.vocabulary.whole_ngrams(TEXTS)).toarray().tolist() == (
        model.vocabulary.transform(TEXTS).toarray().tolist()
    )
