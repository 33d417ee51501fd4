"""The service a citizen chose (an Open311 ``service_code``) is kept unless the model is sure it is wrong.

The rule, per call that names a requested category:
- the model agrees on the level-1 category: the citizen's path is kept (their level 2/3 and 每月一题 problem
  when given, else the model's), with the model's confidence;
- the model names another level-1 category with confidence >= ``override_above`` (default 0.9) and does not
  itself need review: the model's decision stands (the choice stays visible in ``call.requested``);
- otherwise the citizen's category is kept, levels 2/3 chosen inside it by the lexicon when the service did
  not name them, with the model's probability of that category as confidence and no manual review
  (the citizen's choice is the evidence).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.classifier.features import message_text
from services.classifier.model import Classifier
from shared.events import CallReceived, Classification, RequestedService

DEFAULT_OVERRIDE_ABOVE = 0.9


def choose(
    decision: Classification,
    requested: RequestedService,
    requested_probability: float,
    *,
    override_above: float = DEFAULT_OVERRIDE_ABOVE,
    branch_guess: tuple[str | None, str | None] = (None, None),
) -> Classification:
    """The classification of a call whose citizen chose ``requested``, given the model's ``decision``."""
    marker = f"service_code={requested.code}"
    if decision.category == requested.category:
        same_branch = requested.subcategory in (None, decision.subcategory)
        return decision.model_copy(
            update={
                "subcategory": requested.subcategory or decision.subcategory,
                "item": requested.item or (decision.item if same_branch else None),
                "issue": requested.issue or decision.issue,
                "needs_review": False,
                "explanation": [marker, *decision.explanation][:6],
            }
        )
    if decision.confidence >= override_above and not decision.needs_review:
        return decision
    subcategory, item = (requested.subcategory, requested.item) if requested.subcategory else branch_guess
    return Classification(
        category=requested.category,
        subcategory=subcategory,
        item=item,
        issue=requested.issue,
        confidence=round(min(max(requested_probability, 0.0), 1.0), 4),
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
        guess = model.matcher.match(requested.category, texts[position]) if not requested.subcategory else (None, None)
        result[row] = choose(result[row], requested, probability, override_above=override_above, branch_guess=guess)
    return result
