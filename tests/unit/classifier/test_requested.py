"""The classifier keeps the service a citizen chose (Open311 service_code) unless the model is sure it is wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.classifier.model import Classifier
from services.classifier.requested import choose, respect_requested
from shared.events import CallReceived, Classification, RequestedService
from shared.reference import load_taxonomy
from tests import factories


def decision(category: str, confidence: float, **fields: Any) -> Classification:
    return Classification(category=category, confidence=confidence, model_version="m", **fields)


def test_choose_keeps_agrees_or_overrules() -> None:
    wanted = RequestedService(
        code="mq-wage-arrears", category="劳动和社会保障", subcategory="工资福利", issue="wage-arrears"
    )
    agreed = choose(
        decision("劳动和社会保障", 0.6, subcategory="劳动关系", subcategory_confidence=0.5, needs_review=False),
        wanted,
        0.6,
    )
    assert (agreed.subcategory, agreed.issue, agreed.confidence) == ("工资福利", "wage-arrears", 0.6)
    assert agreed.subcategory_confidence is None  # the citizen's level 2, not the model's: no model confidence
    same = choose(decision("劳动和社会保障", 0.6, subcategory="工资福利", subcategory_confidence=0.5), wanted, 0.6)
    assert same.subcategory_confidence == 0.5
    kept = choose(decision("城乡建设", 0.85), wanted, 0.1)
    assert (kept.category, kept.issue, kept.confidence, kept.needs_review) == (
        "劳动和社会保障",
        "wage-arrears",
        0.1,
        False,
    )
    overruled = choose(decision("城乡建设", 0.95), wanted, 0.01)
    assert overruled.category == "城乡建设" and overruled.issue is None
    unsure = choose(decision("城乡建设", 0.95, needs_review=True), wanted, 0.01, override_above=0.9)
    assert unsure.category == "劳动和社会保障"


@pytest.fixture(scope="module")
def model() -> Classifier:
    return Classifier.load()


def received(body: str, requested: RequestedService | None) -> CallReceived:
    return factories.received(
        factories.call(
            body,
            source_system="open311:test",
            channel="open311",
            body=body,
            received_at=datetime(2026, 11, 30, tzinfo=UTC),
            requested=requested,
        )
    )


def test_the_model_overrules_only_when_sure(model: Classifier) -> None:
    education = RequestedService(code="14", category="教育文体")
    sure = "我们公司拖欠农民工工资三个月了，老板跑了"  # the model: 劳动和社会保障, p > 0.99
    vague = "楼下那个情况还是老样子，麻烦来看看。"  # the model: 城乡建设, p about 0.6
    events = [received(sure, education), received(vague, education), received(vague, None)]
    plain = model.predict([(e.call.subject, e.call.body) for e in events])
    decided = respect_requested(model, events, plain)
    assert decided[0].category == "劳动和社会保障" == plain[0].category
    assert decided[1].category == "教育文体" != plain[1].category
    assert decided[1].confidence < 0.5 and not decided[1].needs_review
    # levels 2/3 chosen by the model inside the citizen's branch, each with a confidence below the category's
    assert decided[1].subcategory in load_taxonomy()["教育文体"]
    assert decided[1].subcategory_confidence is not None and decided[1].item_confidence is not None
    assert decided[1].item_confidence <= decided[1].subcategory_confidence <= decided[1].confidence
    assert decided[2] == plain[2]
