"""The learned lead scorer (services/router/lead.py) and how routing weighs it against the catalogue's rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from hotline.examples_cmd import HELD_OUT, build
from services.router.lead import (
    EXAMPLES_PATH,
    C,
    LeadScorer,
    LeadVote,
    example_rows,
    lead_example,
    load_lead_scorer,
    unit_of,
)
from services.router.routing import locate_call, route, with_learned_lead
from services.router.settings import RouterSettings
from shared.catalogue import Catalogue
from shared.events import RequestedService
from shared.gazetteer import Gazetteer
from shared.queues import URGENT_PRIORITY, is_urgent
from tests import factories

NOW = datetime(2025, 5, 13, 2, 0, tzinfo=UTC)
DATA = Path(__file__).parents[2] / "data"
GAS = "department:北京市燃气集团"
TRANSPORT = "department:市交通委员会"
EXAMPLES = [
    ("厨房里煤气味很浓，怕是漏气了", (GAS,)),
    ("燃气表一直在走，家里没开火", (GAS,)),
    ("天然气管子有味道", (GAS, "street")),
    ("楼道灯坏了一个月没人修", ("street",)),
    ("小区门口垃圾堆成山", ("street",)),
    ("胡同里私搭乱建的棚子", ("street",)),
    ("公交车改线了，站台太远", (TRANSPORT,)),
    ("地铁站到公交站没有接驳线路", (TRANSPORT,)),
    ("不知道找哪个部门，说不清在哪", ("manual",)),
    ("没有地址，就想投诉一下", ("manual",)),
]
UNITS = ("street", GAS, "manual")


def vote(*probabilities: float, min_probability: float = 0.4, margin: float = 0.3) -> LeadVote:
    return LeadVote(UNITS, np.array(probabilities), min_probability, margin, positions_of(UNITS))


def positions_of(units: tuple[str, ...]) -> dict[str, int]:
    return {unit: at for at, unit in enumerate(units)}


def test_the_scorers_probabilities_are_sklearns_per_unit_and_name_the_unit_of_the_words() -> None:
    scorer = LeadScorer.train(EXAMPLES, min_probability=0.4, margin=0.3)
    assert scorer.units == tuple(sorted({GAS, TRANSPORT, "street", "manual"}))
    texts = ["家里煤气味好大", "楼道灯不亮了", "公交车站太远了"]
    calls = [factories.call(f"L-{i}", body=text) for i, text in enumerate(texts)]
    votes = scorer.votes(calls)
    assert [v.best for v in votes] == [GAS, "street", TRANSPORT]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, lowercase=True)
    features = vectorizer.fit_transform([text for text, _ in EXAMPLES])
    wanted = vectorizer.transform([f"\n{text}" for text in texts])
    for unit in scorer.units:
        labels = np.array([unit in accept for _, accept in EXAMPLES])
        model = LogisticRegression(
            C=C, solver="liblinear", dual=True, class_weight="balanced", max_iter=2000, random_state=0
        ).fit(features, labels)
        expected = model.predict_proba(wanted)[:, list(model.classes_).index(True)]
        assert [v.probability(unit) for v in votes] == pytest.approx(expected, abs=1e-9)
    assert scorer.votes([]) == []


def test_a_unit_with_one_example_gets_no_model_and_examples_need_units(tmp_path: Path) -> None:
    scorer = LeadScorer.train([*EXAMPLES, ("一次性的", ("department:市文物局",))], min_probability=0.4, margin=0.3)
    assert "department:市文物局" not in scorer.units
    assert scorer.votes([factories.call(body="文物")])[0].probability("department:市文物局") == 0.0
    with pytest.raises(ValueError, match="at least 2 calls"):
        LeadScorer.train([("a", ("street",)), ("b", (GAS,))], min_probability=0.4, margin=0.3)
    bad = tmp_path / "examples.jsonl"
    bad.write_text(json.dumps({"text": "漏气", "accept": []}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"examples.jsonl:1: expected"):
        example_rows(bad)


def test_the_vote_overrides_a_rule_only_when_sure_and_never_to_district_or_manual() -> None:
    assert unit_of("street:东城区/东华门街道") == "street"
    assert unit_of("manual:dispatch") == "manual"
    assert unit_of(GAS) == GAS
    sure = vote(0.1, 0.7, 0.05)
    choice = sure.choice("street:东城区/东华门街道")
    assert choice is not None and (choice.unit, choice.probability, choice.rule_probability) == (GAS, 0.7, 0.1)
    assert sure.choice(GAS) is None  # the rule's unit already
    assert vote(0.1, 0.35, 0.05).choice("street:东城区/东华门街道") is None  # below min_probability
    assert vote(0.45, 0.7, 0.05).choice("street:东城区/东华门街道") is None  # the rule's unit too close
    assert vote(0.45, 0.7, 0.05, margin=0.2).choice("street:东城区/东华门街道") is not None
    assert vote(0.5, 0.9, 0.05).choice("street:东城区/东华门街道") is None  # the rule's unit likely enough
    assert vote(0.1, 0.7, 0.05).choice("department:市文物局") is not None  # a unit it has no model of: p 0
    assert vote(0.1, 0.05, 0.9).choice(GAS) is None  # manual is never chosen


def test_a_sure_vote_leads_with_its_unit_and_the_rules_unit_cooperates(
    catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    call = factories.call(body="燃气表一直在走，家里没开火，请燃气公司来看看", address="东城区东华门街道南池子大街")
    classification = factories.classification("城乡建设")
    by_rule = route(call, classification, catalogue, gazetteer, NOW)
    assert by_rule.queue_id == GAS  # the rule's unit
    to_street = vote(0.9, 0.05, 0.01)
    led = route(call, classification, catalogue, gazetteer, NOW, learned_lead=to_street)
    assert led.queue_id == "street:东城区/东华门街道" and led.rule_id is None
    assert led.cooperating_units[0] == GAS
    assert led.reason.startswith("learned lead: 东城区东华门街道 (p=0.90) over 北京市燃气集团 (p=0.05)")
    assert led.response_due_at is not None and led.resolution_due_at is not None
    # no street resolved: nothing to lead with
    nowhere = factories.call(body=call.body)
    assert route(nowhere, classification, catalogue, gazetteer, NOW, learned_lead=to_street).queue_id == GAS
    # a department the catalogue does not have: the rule stands
    units = ("department:不存在的局", GAS)
    unknown = LeadVote(units, np.array([0.9, 0.05]), 0.4, 0.3, positions_of(units))
    assert route(call, classification, catalogue, gazetteer, NOW, learned_lead=unknown).queue_id == GAS


def test_an_urgent_call_keeps_its_urgency_under_another_lead(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    call = factories.call(body="厨房里煤气味特别大，好像漏气了，人有点头晕", address="东城区东华门街道南池子大街")
    urgent = route(call, factories.classification("城乡建设"), catalogue, gazetteer, NOW)
    assert is_urgent(urgent.priority)
    place = locate_call(call, gazetteer)
    led = with_learned_lead(urgent, vote(0.95, 0.0, 0.0), catalogue, place, NOW)
    assert led.queue_id == "street:东城区/东华门街道" and led.priority == URGENT_PRIORITY
    assert led.response_due_at is not None and urgent.response_due_at is not None
    assert led.response_due_at <= urgent.response_due_at
    assert urgent.queue_id in led.cooperating_units


def test_the_shipped_examples_are_the_teams_dispatch_sets_never_the_held_out_ones() -> None:
    """``hotline examples`` writes both scorers' files from tests/data's dispatch sets, less the held-out ones."""
    built = build(DATA)
    assert {path: path.read_text(encoding="utf-8") for path in built} == built, "run `hotline examples`"
    labelled: dict[str, tuple[str, tuple[str, ...]]] = {}
    for path in DATA.glob("dispatch_calls*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            accept = tuple(dict.fromkeys("manual" if unit.startswith("manual") else unit for unit in row["accept"]))
            labelled[row["id"]] = (f"{row.get('subject') or ''}\n{row['body']}", accept)
    ids = [json.loads(line)["id"] for line in EXAMPLES_PATH.read_text(encoding="utf-8").splitlines()]
    rows = example_rows(EXAMPLES_PATH)
    assert len(rows) == len(ids) >= 1000 and len(set(ids)) == len(ids)
    assert not [i for i in ids if i.startswith(HELD_OUT)]
    assert {i.split("-")[0] for i in labelled if i.startswith(HELD_OUT)} == {"fresh13", "fresh14", "fresh15"}
    assert [labelled.get(i) for i in ids] == rows
    assert len(ids) == len([i for i in labelled if not i.startswith(HELD_OUT)])


def test_what_the_case_store_taught_is_learned_with_the_shipped_examples(tmp_path: Path) -> None:
    """Settled returns and manual dispatches (``hotline catalogue suggest --lead-examples``) as extra examples."""
    market = "department:市市场监督管理局"
    taught = [
        factories.call(f"C-{i}", body=body)
        for i, body in enumerate(["自助洗车机扣了钱不出水", "小区门口自助洗车机扣费不出水", "自助洗车机扣钱了洗不了车"])
    ]
    extra = tmp_path / "lead.jsonl"
    extra.write_text(
        "".join(
            json.dumps(lead_example(f"C-{i}", call, market), ensure_ascii=False) + "\n" for i, call in enumerate(taught)
        ),
        encoding="utf-8",
    )
    asked = [factories.call("Q", body="商场门口的自助洗车机扣费不出水")]
    shipped = load_lead_scorer(RouterSettings())
    learned = load_lead_scorer(RouterSettings(learned_lead_extra_examples=extra))
    assert shipped is not None and learned is not None
    before, after = shipped.votes(asked)[0], learned.votes(asked)[0]
    assert after.best == market and after.probability(market) > before.probability(market) + 0.2
    assert load_lead_scorer(RouterSettings(learned_lead=False)) is None
    with pytest.raises(ValueError, match="is not a file"):
        load_lead_scorer(RouterSettings(learned_lead_extra_examples=tmp_path / "missing.jsonl"))


def test_the_service_the_citizen_chose_is_not_overruled_by_the_text(catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    """An Open311 request names its service (交通运输 here) and says little: the scorer, which reads only the text,
    must not send it elsewhere; once the classifier overrules the citizen's service, the scorer may."""
    requested = RequestedService(code="02", category="交通运输")
    call = factories.call(body="楼下那个情况还是老样子，麻烦来看看。", address="海淀区中关村街道", requested=requested)
    kept = factories.classification("交通运输")
    to_street = vote(0.9, 0.05, 0.01)
    by_rule = route(call, kept, catalogue, gazetteer, NOW)
    assert route(call, kept, catalogue, gazetteer, NOW, learned_lead=to_street) == by_rule
    overruled = factories.classification("商贸旅游")  # its rule: 市场监管
    led = route(call, overruled, catalogue, gazetteer, NOW, learned_lead=to_street)
    assert led.queue_id == "street:海淀区/中关村街道" and led.reason.startswith("learned lead")
