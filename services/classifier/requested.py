"""The service a citizen chose (an Open311 ``service_code``) is kept unless the model is sure it is wrong.

The rule, per call that names a requested category:
- the model agrees on the level-1 category: the citizen's path is kept (their level 2/3 and 每月一题 problem
  when given, else the model's), with the model's confidence (and its level-2/3 confidences where the
  citizen's level agrees with the model's or names none);
- the model names another level-1 category with confidence >= ``override_above`` (default 0.9) and does not
  itself need review: the model's decision stands (the choice stays visible in ``call.requested``);
- otherwise the citizen's category is kept, levels 2/3 chosen inside it by the model (``Classifier.decide_in``,
  with their confidences) when the service did not name them, with the model's probability of that category
  as confidence and no manual review
  (the citizen's choice is the evidence).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.classifier.features import message_text
from services.classifier.model import Classifier
from shared.events import CallReceived, Classification, RequestedService

DEFAULT_OVERRIDE_ABOVE = 0.9


def _levels_from(decision: Classification, requested: RequestedService) -> dict:
    """Levels 2/3 of ``decision`` unless the citizen named others: a named level is kept, and only a level the
    model chose too keeps the model's (calibrated) confidence; a level below one the citizen changed has none."""
    subcategory = requested.subcategory or decision.subcategory
    same_level2 = subcategory == decision.subcategory
    item = requested.item or (decision.item if same_level2 else None)
    same_level3 = same_level2 and item == decision.item
    return {
        "subcategory": subcategory,
        "item": item,
        "subcategory_confidence": decision.subcategory_confidence if same_level2 else None,
        "item_confidence": decision.item_confidence if same_level3 else None,
    }


def choose(
    decision: Classification,
    requested: RequestedService,
    requested_probability: float,
    *,
    override_above: float = DEFAULT_OVERRIDE_ABOVE,
    in_branch: Classification | None = None,
) -> Classification:
    """The classification of a call whose citizen chose ``requested``, given the model's ``decision`` and
    ``in_branch``, the model's decision placed in the citizen's category (levels 2/3 and their confidences)."""
    marker = f"service_code={requested.code}"
    if decision.category == requested.category:
        return decision.model_copy(
            update={
                **_levels_from(decision, requested),
                "issue": requested.issue or decision.issue,
                "needs_review": False,
                "explanation": [marker, *decision.explanation][:6],
            }
        )
    if decision.confidence >= override_above and not decision.needs_review:
        return decision
    confidence = round(min(max(requested_probability, 0.0), 1.0), 4)
    placed = in_branch or Classification(
        category=requested.category, confidence=confidence, model_version=decision.model_version
    )
    return Classification(
        category=requested.category,
        **_levels_from(placed, requested),
        issue=requested.issue,
        confidence=confidence,
        model_version=decision.model_version,
        explanation=[marker],
        needs_review=False,
    )


def respect_requested(
    model: Classifier,
    received: Sequence[CallReceived],
    decisions: Sequence[Classification],
    *,
    override_above: float = DEFAULT_OVERRIDE_ABOVE,
) -> list[Classification]:
    """``decisions`` with the citizen's chosen service applied by ``choose`` where a call names one."""
    result = list(decisions)
    rows = [row for row, event in enumerate(received) if event.call.requested is not None]
    if not rows:
        return result
    texts = [message_text(received[row].call.subject, received[row].call.body) for row in rows]
    probabilities = model.predict_proba(texts)
    for position, row in enumerate(rows):
        requested = received[row].call.requested
        assert requested is not None
        column = model.classes.index(requested.category) if requested.category in model.classes else None
        probability = float(probabilities[position, column]) if column is not None else 0.0
        placed = model.decide_in(texts[position], requested.category, probability)
        result[row] = choose(result[row], requested, probability, override_above=override_above, in_branch=placed)
    return result
