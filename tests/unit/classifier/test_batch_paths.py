"""The classifier's whole-batch shortcuts (numpy over every message at once) answer exactly as the plain
per-message code they replaced: the same positions, the same sets in the same order, the same explanations; and
the per-message steps made cheaper (merged explanations, the level-2/3 logistic) give the same values."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest

from services.classifier.features import message_text, ngram_keys, pair_codes, text_to_key
from services.classifier.model import EXPLANATION_TERMS, Classifier, logistic, merge_explanation, softmax
from shared.keyindex import KeyIndex

TEXTS = [
    message_text("工资拖欠", "公司拖欠我们三个月工资，老板不接电话，农民工讨薪难"),
    message_text("", "小区停水两天了，自来水公司不回电话，楼道灯也坏了"),
    message_text("Noise at night", "The bar downstairs plays loud music until 3am, Sanlitun, Chaoyang District"),
    message_text("", ""),
    message_text("", "！！！"),
    message_text("学校", "孩子学校强制补课收费，幼儿园学费上涨。" * 30),
    message_text("", "煤气泄漏了，闻到很重的燃气味"),
]


@pytest.fixture(scope="module")
def model() -> Classifier:
    return Classifier.load()


def test_key_index_finds_what_a_dict_finds_even_when_most_slots_collide() -> None:
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(1, 1 << 40, 5_000, dtype=np.int64).astype(np.uint64))
    index = KeyIndex(keys)
    queries = np.concatenate([keys, rng.integers(1, 1 << 40, 5_000, dtype=np.int64).astype(np.uint64), keys[::-3]])
    known = {int(key): position for position, key in enumerate(keys)}
    assert index.lookup(queries).tolist() == [known.get(int(query), -1) for query in queries]
    assert index.lookup(np.zeros(0, dtype=np.uint64)).tolist() == []


def _present_one_by_one(model: Classifier, texts: list[str]) -> list[set[str]]:
    """The filter's bigrams of each text added one at a time in (text, bigram) order, as before the batch path."""
    bigram_filter = model.bigram_filter
    found: list[set[str]] = [set() for _ in texts]
    docs, keys = ngram_keys(texts, orders=(2,))
    columns = {text_to_key(bigram): column for column, bigram in enumerate(bigram_filter.bigrams)}
    pairs = sorted({(int(doc), columns[int(key)]) for doc, key in zip(docs, keys, strict=True) if int(key) in columns})
    for doc, column in pairs:
        found[doc].add(bigram_filter.bigrams[column])
    return found


def test_the_bigram_filter_gives_each_text_the_same_set_in_the_same_order(model: Classifier) -> None:
    expected = _present_one_by_one(model, TEXTS)
    shared = model.vocabulary.whole_ngrams(TEXTS)
    for found in (model.bigram_filter.present(TEXTS), model.bigram_filter.present(TEXTS, shared)):
        assert found == expected
        # The order matters: the lexical steps add their float scores in the order they meet the bigrams.
        assert [list(bigrams) for bigrams in found] == [list(bigrams) for bigrams in expected]


def _explanations_row_by_row(model: Classifier, texts: list[str]) -> list[list[str]]:
    """The explanations as computed before the batch path: the same sort, then each row's strongest n-grams
    walked one by one from the sorted positions."""
    features = model.features(texts)
    best = softmax(model.decision_scores(features), model.temperature).argmax(axis=1)
    rows = np.repeat(np.arange(features.shape[0]), np.diff(features.indptr))
    contributions = features.data * model.coef[best[rows], features.indices]
    positive = np.flatnonzero(contributions > 0)[::-1]
    spread = 2.0 * float(contributions[positive].max()) + 1.0 if len(positive) else 1.0
    order = positive[np.argsort(rows[positive] * spread - contributions[positive], kind="stable")]
    starts = np.searchsorted(rows[order], np.arange(features.shape[0] + 1))
    explanations = []
    for row in range(features.shape[0]):
        terms: list[str] = []
        for index in order[starts[row] : min(starts[row + 1], starts[row] + EXPLANATION_TERMS * 4)]:
            term = model.vocabulary.term(int(features.indices[index])).strip()
            if not term.isalnum() or any(term in kept or kept in term for kept in terms):
                continue
            terms.append(term)
            if len(terms) == EXPLANATION_TERMS:
                break
        explanations.append(terms)
    return explanations


@pytest.mark.parametrize("texts", [TEXTS, TEXTS[:1], TEXTS[3:5], TEXTS[::-1]])
def test_batch_explanations_are_the_row_by_row_ones(model: Classifier, texts: list[str]) -> None:
    features = model.features(texts)
    best = softmax(model.decision_scores(features), model.temperature).argmax(axis=1)
    assert model._explanations(features, best) == _explanations_row_by_row(model, texts)


@pytest.mark.parametrize("layout", [np.ascontiguousarray, np.asfortranarray])
def test_explanations_read_the_weights_right_in_either_memory_layout(model: Classifier, layout: Callable) -> None:
    other = dataclasses.replace(model, coef=layout(model.coef))
    features = other.features(TEXTS)
    best = softmax(other.decision_scores(features), other.temperature).argmax(axis=1)
    assert other._explanations(features, best) == _explanations_row_by_row(model, TEXTS)


def _merge_as_before(words: list[str], ngrams: list[str]) -> list[str]:
    """merge_explanation as written before it stopped at the third lexicon word."""
    terms = [word for word in words if not any(word in kept for kept in words[: words.index(word)])][:3]
    rest = [gram for gram in ngrams if not any(gram in term or term in gram for term in terms)]
    for gram in [gram for gram in rest if len(gram) > 1] + [gram for gram in rest if len(gram) == 1]:
        if len(terms) >= EXPLANATION_TERMS:
            break
        if gram not in terms:
            terms.append(gram)
    return terms


@pytest.mark.parametrize(
    "words",
    [
        [],
        ["城镇低保", "低保"],
        ["低保", "城镇低保", "停水", "停电", "燃气"],
        ["停水", "停水", "水", "欠薪", "工资", "讨薪"],
    ],
)
def test_the_merged_explanation_is_the_one_before(words: list[str]) -> None:
    ngrams = ["停水", "小区", "水", "工资", "拖欠", "电"]
    assert merge_explanation(words, ngrams) == _merge_as_before(words, ngrams)


def test_logistic_sums_from_the_left_and_refuses_a_length_mismatch() -> None:
    weights, features = (-1.3, 0.7, 1e-17, 0.1), (1.0, 0.3, 1.0, 1e-17)
    expected = 1.0 / (1.0 + math.exp(-sum(w * x for w, x in zip(weights, features, strict=True))))
    assert logistic(weights, features) == expected
    with pytest.raises(ValueError):
        logistic(weights, features[:3])


@pytest.mark.parametrize(("width", "n_docs"), [(200_000, 500), (200_000, 20_000)])
def test_pair_codes_are_the_int64_codes_whichever_width_they_are_kept_in(width: int, n_docs: int) -> None:
    rng = np.random.default_rng(3)
    docs = np.sort(rng.integers(0, n_docs, 1_000))
    columns = rng.integers(0, width, 1_000).astype(np.int32)
    codes = pair_codes(docs, columns, width, n_docs)
    assert codes.dtype == (np.int32 if n_docs * width < 2**31 else np.int64)
    assert codes.tolist() == (docs.astype(np.int64) * width + columns).tolist()
