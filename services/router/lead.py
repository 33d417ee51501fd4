"""A learned second opinion on the lead unit (派单), weighed against the catalogue's rule.

The catalogue's rules choose the unit a call's words and category name. On calls written by people who never
read them they reach 0.69-0.83 accepted leads (docs/routing.md): each round of rules fixed the set it read and
moved unread sets by a point or two. This scorer learns the choice itself from calls labelled with the units a
12345 dispatcher accepts (``data/lead_examples.jsonl``: 3,395 calls of the team's dispatch sets, written by
``hotline examples``; never the classifier's corpus, never the sets kept unread to measure it): character
1-3-grams, TF-IDF, one logistic regression per unit (``street`` standing for the call's street/town, 属地; ``department:<name>``; ``district``;
``manual``). It is trained when the router starts, in about 3 s CPU.

Each unit's model weighs its calls and the others equally (balanced class weights: most units have a few dozen
calls among a thousand). It only overrides the rule when it is sure and the rule's unit is unlikely: the best
unit's probability reaches ``min_probability`` and exceeds the rule's unit's by ``margin`` (settings
``HOTLINE_ROUTER_LEARNED_LEAD_*``), and the rule's unit is below ``RULE_LIKELY``. It
never sends a call to ``district`` or ``manual`` (the rules decide when a call has no place or no unit), never to
a street that was not resolved, and never to a department the catalogue does not have. The call keeps its
urgency; the rule's unit cooperates; the reason says both. Thresholds chosen on three sets nobody tuned on
(fresh10-12), C by leaving one unread set out at a time, measured on sets it never learned (fresh13-15):
docs/routing.md, "The learned lead".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from services.router.chargrams import LinearCharGrams, char_grams_vectorizer, positive_weights, share_table
from services.router.settings import RouterSettings
from services.router.urgency import UrgencyScorer, load_urgency_scorer, scored_text
from shared.events import Call
from shared.queues import UnitKind

EXAMPLES_PATH = Path(__file__).parent / "data" / "lead_examples.jsonl"
STREET = "street"
NEVER_CHOSEN = frozenset({"district", "manual"})
MIN_EXAMPLES = 2  # a unit with fewer labelled calls gets no model of its own
RULE_LIKELY = 0.5  # a rule's unit at least this likely is never overridden
C = 30.0  # each unit's inverse regularisation: 0.886 / 0.895 / 0.903 accepted leads at C 3 / 10 / 30 (docs/routing.md)


def example_rows(path: Path = EXAMPLES_PATH) -> list[tuple[str, tuple[str, ...]]]:
    """The labelled examples ``{text, accept: [unit, ...]}`` of a JSON-lines file."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        accept = item.get("accept")
        if (
            not isinstance(item.get("text"), str)
            or not isinstance(accept, list)
            or not accept
            or not all(isinstance(unit, str) and unit for unit in accept)
        ):
            raise ValueError(f"{path}:{number}: expected {{text: string, accept: [unit, ...]}}")
        rows.append((item["text"], tuple(accept)))
    return rows


def lead_example(call_id: str, call: Call, unit: str) -> dict[str, object]:
    """An example line ``{id, text, accept}``: ``call`` led by ``unit`` (``street``, ``department:<name>`` ...)."""
    return {"id": call_id, "text": scored_text(call), "accept": [unit]}


def unit_of(queue_id: str) -> str:
    """The unit a queue id stands for in the examples: ``street``, ``district``, ``manual`` or the queue id of a
    department."""
    kind, separator, _ = queue_id.partition(":")
    return kind if separator and kind != UnitKind.department.value else queue_id


@dataclass(frozen=True)
class LeadVote:
    """The scorer's probabilities of one call, per unit (``units`` shared by every vote of a scorer), and the
    scorer's thresholds for overriding a rule."""

    units: tuple[str, ...]
    probabilities: np.ndarray
    min_probability: float
    margin: float
    positions: Mapping[str, int] = field(repr=False, compare=False)  # unit -> its index in units, shared too

    @property
    def best(self) -> str:
        return self.units[int(self.probabilities.argmax())]

    @property
    def best_probability(self) -> float:
        return float(self.probabilities.max())

    def probability(self, unit: str) -> float:
        """The probability of ``unit`` (0 for a unit the scorer has no model of)."""
        at = self.positions.get(unit)
        return 0.0 if at is None else float(self.probabilities[at])

    def choice(self, rule_queue: str) -> LeadChoice | None:
        """The unit to lead instead of the rule's ``rule_queue``, when this vote is sure enough (the best unit at
        ``min_probability`` or more, ``margin`` above the rule's unit) and the rule's unit is unlikely (below
        ``RULE_LIKELY``); else None. ``district`` and ``manual`` are never chosen (the caller checks that a
        street or department exists)."""
        at = int(self.probabilities.argmax())
        best, probability, rule_unit = self.units[at], float(self.probabilities[at]), unit_of(rule_queue)
        rule_probability = self.probability(rule_unit)
        if best in NEVER_CHOSEN or best == rule_unit or rule_probability >= RULE_LIKELY:
            return None
        if probability < self.min_probability or probability - rule_probability < self.margin:
            return None
        return LeadChoice(best, probability, rule_probability)


@dataclass(frozen=True)
class LeadChoice:
    """The unit the scorer would put in the rule's place, and the two probabilities that made it."""

    unit: str
    probability: float
    rule_probability: float


@dataclass(frozen=True)
class LeadScorer:
    """Per-unit probabilities of being an accepted lead, and when they override the rule's unit."""

    units: tuple[str, ...]
    fast: LinearCharGrams
    min_probability: float
    margin: float

    @classmethod
    def train(
        cls, examples: Sequence[tuple[str, Sequence[str]]], *, min_probability: float, margin: float
    ) -> LeadScorer:
        counts: dict[str, int] = {}
        for _, accept in examples:
            for unit in set(accept):
                counts[unit] = counts.get(unit, 0) + 1
        units = tuple(sorted(unit for unit, count in counts.items() if MIN_EXAMPLES <= count < len(examples)))
        if not units:
            raise ValueError(f"the lead examples need a unit with at least {MIN_EXAMPLES} calls (and not all)")
        vectorizer = char_grams_vectorizer()
        features = vectorizer.fit_transform([text for text, _ in examples])
        # The dual problem (far fewer calls than n-grams): ~6x faster to fit than the primal, same probabilities to
        # ~3e-5; the router trains this at every start.
        weights = [
            positive_weights(
                LogisticRegression(
                    C=C, solver="liblinear", dual=True, class_weight="balanced", max_iter=2000, random_state=0
                ).fit(features, np.array([unit in accept for _, accept in examples]))
            )
            for unit in units
        ]
        fast = LinearCharGrams(
            vectorizer, np.array([coef for coef, _ in weights]), np.array([intercept for _, intercept in weights])
        )
        return cls(units, fast, min_probability, margin)

    @classmethod
    def load(cls, path: Path = EXAMPLES_PATH, *, min_probability: float = 0.4, margin: float = 0.3) -> LeadScorer:
        return cls.train(example_rows(path), min_probability=min_probability, margin=margin)

    def votes(self, calls: Sequence[Call]) -> list[LeadVote]:
        """Each call's probabilities per unit."""
        if not calls:
            return []
        matrix = self.fast.probabilities([scored_text(call) for call in calls])
        positions = {unit: at for at, unit in enumerate(self.units)}
        return [LeadVote(self.units, row, self.min_probability, self.margin, positions) for row in matrix]


def load_lead_scorer(settings: RouterSettings) -> LeadScorer | None:
    """The scorer with the router's thresholds, trained on the shipped examples and those of the settings' extra
    file (what the case store taught: ``hotline catalogue suggest --lead-examples``); None when turned off."""
    if not settings.learned_lead:
        return None
    rows = example_rows()
    extra = settings.learned_lead_extra_examples
    if extra is not None:
        if not extra.is_file():
            raise ValueError(f"HOTLINE_ROUTER_LEARNED_LEAD_EXTRA_EXAMPLES: {extra} is not a file")
        rows += example_rows(extra)
    return LeadScorer.train(
        rows, min_probability=settings.learned_lead_min_probability, margin=settings.learned_lead_margin
    )


def load_scorers(settings: RouterSettings) -> tuple[UrgencyScorer | None, LeadScorer | None]:
    """The learned urgency and lead scorers as the settings say (``load_urgency_scorer``, ``load_lead_scorer``),
    reading one n-gram table when both are on: a batch's n-grams are counted once for the two."""
    urgency, lead = load_urgency_scorer(settings), load_lead_scorer(settings)
    if urgency is not None and lead is not None:
        share_table(urgency.fast, lead.fast)
    return urgency, lead
