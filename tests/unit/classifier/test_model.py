"""The classifier's pure parts: taxonomy, 每月一题 matching, features, and the shipped model's decisions."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from services.classifier.features import fit_vocabulary, key_to_text, message_text, text_to_key
from services.classifier.issues import load_monthly_questions, match_monthly_question
from services.classifier.model import Classifier
from services.classifier.taxonomy import BranchMatcher, build_taxonomy, load_synonyms, read_taxonomy_csv
from shared.keyindex import KeyIndex
from shared.reference import load_taxonomy
from tests.conftest import domain_csv
from tests.helpers import REPO

LEVEL1 = [
    "城乡建设",
    "劳动和社会保障",
    "教育文体",
    "卫生计生",
    "交通运输",
    "商贸旅游",
    "环境保护",
    "农村农业",
    "政法",
    "民政",
    "党务政务",
    "经济管理",
    "纪检监察",
    "国土资源",
    "科技与信息产业",
]
MONTHLY_QUESTION_IDS = {
    "wage-arrears",
    "property-certificate",
    "online-consumption",
    "old-community-renovation",
    "inclusive-kindergarten",
    "home-elderly-care",
    "unlicensed-e-vehicles",
    "prepaid-refund",
    "training-institutions",
}
WAGE_ARREARS = ("工地拖欠工资", "我在工地干了半年，老板拖欠我们三个月工资一直不发，请帮我们讨薪")


@pytest.fixture(scope="module")
def model() -> Classifier:
    return Classifier.load()


# --- taxonomy ---------------------------------------------------------------------------------------------


def test_shipped_taxonomy_is_the_tree_built_from_the_official_csv() -> None:
    assert read_taxonomy_csv(domain_csv("taxonomy-government-messages.csv")) == load_taxonomy()


def test_taxonomy_has_the_15_official_level1_names() -> None:
    tree = load_taxonomy()
    assert sorted(tree) == sorted(LEVEL1)
    assert sum(len(items) for branch in tree.values() for items in branch.values()) == 517


def test_taxonomy_builder_groups_rows_into_a_tree_without_duplicates() -> None:
    rows = [
        {"level1": "劳动和社会保障", "level2": "工资福利", "level3": "工资发放"},
        {"level1": "劳动和社会保障", "level2": "工资福利", "level3": "工资发放"},
        {"level1": "劳动和社会保障", "level2": "工资福利", "level3": "最低工资标准"},
        {"level1": "环境保护", "level2": "环境污染", "level3": "噪音污染"},
        {"level1": "", "level2": "x", "level3": "y"},
    ]
    assert build_taxonomy(rows) == {
        "劳动和社会保障": {"工资福利": ["工资发放", "最低工资标准"]},
        "环境保护": {"环境污染": ["噪音污染"]},
    }


def test_every_synonym_key_names_a_real_category() -> None:
    tree = load_taxonomy()
    for key in load_synonyms():
        level1, level2, *rest = key.split("/")
        assert level2 in tree[level1], key
        if rest:
            assert rest[0] in tree[level1][level2], key


def test_branch_matcher_picks_the_item_whose_words_occur() -> None:
    matcher = BranchMatcher(load_taxonomy(), load_synonyms())
    assert matcher.match("环境保护", "晚上工地噪音太大，影响休息") == ("环境污染", "噪音污染")
    assert matcher.match("城乡建设", "小区停水三天了，自来水一直没来") == ("城市建设和市政管理", "自来水供应")


def test_branch_matcher_leaves_levels_empty_when_nothing_fits() -> None:
    matcher = BranchMatcher(load_taxonomy(), load_synonyms())
    assert matcher.match("环境保护", "你好") == (None, None)
    assert matcher.match("不存在的类", "噪音") == (None, None)


# --- 每月一题 ----------------------------------------------------------------------------------------------


def test_monthly_questions_are_the_programme_ids_the_router_refers_to() -> None:
    questions = load_monthly_questions()
    assert {q.id for q in questions} == MONTHLY_QUESTION_IDS
    tree = load_taxonomy()
    for question in questions:
        assert question.category in tree
        assert question.name_zh and question.name_en and question.keywords
        if question.subcategory:
            assert question.item in tree[question.category][question.subcategory]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("老板拖欠工资三个月", "wage-arrears"),
        ("买房五年了还办不下来房产证", "property-certificate"),
        ("在拼多多网购的衣服商家不退货", "online-consumption"),
        ("我们老旧小区什么时候改造，想加装电梯", "old-community-renovation"),
        ("孩子入园难，附近没有普惠性幼儿园", "inclusive-kindergarten"),
        ("希望社区多开养老驿站，方便居家养老", "home-elderly-care"),
        ("路上好多无牌电动三轮车乱跑", "unlicensed-e-vehicles"),
        ("健身房预付卡办了以后老板跑路了", "prepaid-refund"),
        ("校外培训机构乱收费", "training-institutions"),
        ("The company owes me unpaid wages", "wage-arrears"),
    ],
)
def test_message_matches_its_monthly_question(text: str, expected: str) -> None:
    question = match_monthly_question(text, load_monthly_questions())
    assert question is not None and question.id == expected


def test_message_without_programme_keywords_matches_no_monthly_question() -> None:
    assert match_monthly_question("路灯坏了晚上很黑", load_monthly_questions()) is None


# --- features ---------------------------------------------------------------------------------------------


def test_ngram_keys_round_trip_to_text() -> None:
    for ngram in ["工", "工资", "拖欠工", "a😀", "\u0000"]:
        assert key_to_text(text_to_key(ngram)) == ngram


def test_key_index_finds_known_keys_and_rejects_unknown_ones() -> None:
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(1, 2**62, 5000, dtype=np.uint64))
    others = rng.integers(1, 2**62, 5000, dtype=np.uint64)
    others = others[~np.isin(others, keys)]
    index = KeyIndex(keys)
    assert (index.lookup(keys) == np.arange(len(keys))).all()
    assert (index.lookup(others) == -1).all()


def test_features_equal_scikit_learn_char_tfidf_with_the_same_vocabulary() -> None:
    texts = [
        message_text("小区噪音", "晚上工地施工噪音很大 影响休息"),
        message_text("", "拖欠工资 three months"),
        "噪音",
    ]
    vocabulary = fit_vocabulary(texts * 2, max_features=200)
    reference = TfidfVectorizer(
        analyzer="char",
        ngram_range=(1, 3),
        sublinear_tf=True,
        lowercase=False,
        vocabulary={key_to_text(int(k)): i for i, k in enumerate(vocabulary.keys)},
    )
    reference.fit(texts)
    reference.idf_ = vocabulary.idf.astype(np.float64)
    assert np.allclose(vocabulary.transform(texts).toarray(), reference.transform(texts).toarray(), atol=1e-6)


# --- the shipped model ------------------------------------------------------------------------------------


def test_wage_arrears_message_is_labour_and_social_security(model: Classifier) -> None:
    [decision] = model.predict([WAGE_ARREARS])
    assert decision.category == "劳动和社会保障"
    assert (decision.subcategory, decision.item) == ("工资福利", "工资发放")
    assert decision.issue == "wage-arrears"
    assert decision.confidence > 0.8
    assert not decision.needs_review
    assert any("工资" in term or "欠" in term for term in decision.explanation)


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("楼下工厂废气", "附近化工厂每天晚上排放刺鼻废气，严重污染空气，环保部门管管吧", "环境保护"),
        ("学校乱收费", "孩子所在小学强制收取资料费和补课费，家长很有意见", "教育文体"),
        ("小区物业不作为", "小区垃圾堆了一周没人清理，物业也不管，路灯坏了也不修", "城乡建设"),
        ("医院收费", "在市人民医院看病，检查费重复收取，医生态度差", "卫生计生"),
        ("出租车拒载", "在火车站打出租车，司机拒载还绕路多收钱", "交通运输"),
    ],
)
def test_typical_messages_get_their_level1_category(model: Classifier, subject: str, body: str, expected: str) -> None:
    [decision] = model.predict([(subject, body)])
    assert decision.category == expected


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("", ""),
        ("   ", "\n\t "),
        ("!!!", "？？？。。。"),
        ("🙂", "😡😡😡"),
        ("", "字" * 10_000),
        ("<p>", "<br/>&nbsp;"),
    ],
)
def test_empty_text_goes_to_manual_review(model: Classifier, subject: str, body: str) -> None:
    [decision] = model.predict([(subject, body)])
    assert decision.needs_review
    assert decision.confidence <= 0.2
    assert decision.category in LEVEL1


def test_html_long_and_english_text_are_classified_without_crashing(model: Classifier) -> None:
    long_text = "小区噪音扰民，晚上施工。" * 900
    decisions = model.predict(
        [
            ("<b>噪音</b>", "<script>alert(1)</script><p>晚上工地施工噪音很大&amp;影响休息</p>"),
            ("长文本", long_text),
            ("Noise complaint", "Loud construction noise at night near my building"),
            ("\ud800", "bad surrogate \udfff 工资"),
        ]
    )
    assert len(decisions) == 4
    assert all(d.category in LEVEL1 and 0 <= d.confidence <= 1 for d in decisions)
    assert decisions[0].category == "环境保护"


def test_batch_prediction_equals_one_by_one(model: Classifier) -> None:
    rows = _corpus_sample(40)
    assert model.predict(rows) == [d for row in rows for d in model.predict([row])]


def test_predicted_categories_are_level1_names_with_the_model_version(model: Classifier) -> None:
    decisions = model.predict(_corpus_sample(200))
    assert {d.category for d in decisions} <= set(LEVEL1)
    assert all(d.model_version == model.model_version for d in decisions)
    assert model.model_version.startswith("tfidf-linear-")


def test_confidence_threshold_decides_manual_review() -> None:
    rows = _corpus_sample(50)
    assert all(d.needs_review for d in Classifier.load(min_confidence=1.0).predict(rows))
    # At threshold 0 only a reviewer hint for an unlearned class still sends a call to review (issue 11).
    assert all(
        d.needs_review == (d.suggested_category is not None) for d in Classifier.load(min_confidence=0.0).predict(rows)
    )


def test_empty_batch_gives_no_decisions(model: Classifier) -> None:
    assert model.predict([]) == []


def _corpus_sample(count: int) -> list[tuple[str, str]]:
    with domain_csv("messages-train.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = [(row["subject"], row["body"]) for row in csv.DictReader(handle)]
    return rows[:: max(1, len(rows) // count)][:count]


def test_levels_2_and_3_are_given_with_confidences_no_higher_than_the_levels_above(model: Classifier) -> None:
    decisions = model.predict(_corpus_sample(200))
    assert sum(d.subcategory is not None for d in decisions) >= 0.95 * len(decisions)
    assert sum(d.item is not None for d in decisions) >= 0.95 * len(decisions)
    for decision in decisions:
        if decision.subcategory is not None:
            assert decision.subcategory_confidence is not None
            assert 0 <= decision.subcategory_confidence <= decision.confidence
        if decision.item is not None:
            assert decision.item_confidence is not None and decision.subcategory_confidence is not None
            assert 0 <= decision.item_confidence <= decision.subcategory_confidence


def test_a_clear_leaf_is_more_confident_than_the_fallback_leaf(model: Classifier) -> None:
    [clear, vague] = model.predict([WAGE_ARREARS, ("问题", "请尽快处理我反映的问题，谢谢")])
    assert (clear.subcategory, clear.item) == ("工资福利", "工资发放")
    assert vague.subcategory is not None
    assert clear.subcategory_confidence is not None and vague.subcategory_confidence is not None
    assert clear.subcategory_confidence > vague.subcategory_confidence


def test_levels_2_and_3_do_not_depend_on_the_process_hash_seed() -> None:
    """Each worker process hashes strings with its own seed, which orders sets of strings differently. The level
    2/3 scores used to be summed in that order, and on 2 to 4 of the 5,479 training messages the last bits decided
    a tie another way (m372: 城乡规划/规划方案 or 工程质量/施工安全): a replay on a restarted worker could route
    a call elsewhere. The three messages that differed, classified under four seeds, must agree."""
    script = (
        "import csv, json, sys\n"
        "from services.classifier.model import Classifier\n"
        "rows = list(csv.DictReader(open(sys.argv[1], encoding='utf-8')))\n"
        "out = Classifier.load().predict([(rows[i]['subject'], rows[i]['body'][:2000]) for i in (281, 372, 996)])\n"
        "print(json.dumps([[c.subcategory, c.item, c.subcategory_confidence, c.item_confidence] for c in out]))\n"
    )
    path = str(domain_csv("messages-train.csv"))
    answers = {
        seed: subprocess.run(
            [sys.executable, "-c", script, path],
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(4)
    }
    assert len(set(answers.values())) == 1, answers
