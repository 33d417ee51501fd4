"""A small learned urgency scorer, combined with the catalogue's life-or-safety rules.

Keyword cues match the hazards someone thought of, in the words they thought of; on calls written later they
found about half of the life-or-safety calls. This scorer learns the same decision from labelled calls
(character 1-3-grams, TF-IDF, a class-balanced logistic regression) and is trained when the router starts,
in about 2 s CPU, on ``data/urgency_examples.jsonl``: calls written and labelled by the team (every dispatch
set of ``tests/data`` but the held-out ones, written by ``hotline examples``, and calls written for the scorer
alone), never the classifier's corpus. A call is urgent when a
life-or-safety rule matches OR the scorer's probability reaches the threshold
(``HOTLINE_ROUTER_LEARNED_URGENCY_THRESHOLD``) — unless the probability is under
``HOTLINE_ROUTER_LEARNED_URGENCY_CALM_BELOW`` (0.05), where the scorer is sure nothing is happening now and the
life-or-safety rules are set aside (``UrgencyJudgement.calm``); ``HOTLINE_ROUTER_LEARNED_URGENCY=false`` leaves the
rules alone.
Its figures on sets it never saw are in docs/routing.md ("Urgency").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from services.router.chargrams import LinearCharGrams, char_grams_vectorizer, positive_weights
from services.router.settings import RouterSettings
from shared.events import Call

EXAMPLES_PATH = Path(__file__).parent / "data" / "urgency_examples.jsonl"


def example_rows(path: Path = EXAMPLES_PATH) -> list[tuple[str, bool]]:
    """The labelled examples ``{text, urgent}`` of a JSON-lines file."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not isinstance(item.get("text"), str) or not isinstance(item.get("urgent"), bool):
            raise ValueError(f"{path}:{number}: expected {{text: string, urgent: true|false}}")
        rows.append((item["text"], item["urgent"]))
    return rows


def scored_text(call: Call) -> str:
    """What the learned scorers (urgency, lead) read of a call, and what their examples' ``text`` holds."""
    return text_to_score(call.subject, call.body)


def text_to_score(subject: str | None, body: str) -> str:
    """``scored_text`` of a call with this subject and body (``hotline examples`` writes labelled calls with it)."""
    return f"{subject or ''}\n{body}"


@dataclass(frozen=True)
class UrgencyJudgement:
    """The scorer's say on one call: ``flag`` its probability when it reaches the threshold (urgent by the scorer),
    else None; ``calm`` whether the probability is under ``calm_below``: sure that nothing is happening now, so the
    life-or-safety rules' words alone do not make the call urgent (``routing.route``, ``learned_calm``)."""

    flag: float | None
    calm: bool


NO_JUDGEMENT = UrgencyJudgement(None, False)
"""What routing hears from a scorer that is turned off: no flag, not calm."""


@dataclass(frozen=True)
class UrgencyScorer:
    """The probability that a call is life-or-safety, the threshold from which it counts as urgent, and the one under
    which it overrules the life-or-safety rules' words (0: never)."""

    vectorizer: TfidfVectorizer
    model: LogisticRegression
    threshold: float
    calm_below: float = 0.0
    fast: LinearCharGrams = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        coef, intercept = positive_weights(self.model)
        object.__setattr__(self, "fast", LinearCharGrams(self.vectorizer, coef[None, :], np.array([intercept])))

    @classmethod
    def train(cls, examples: Sequence[tuple[str, bool]], *, threshold: float, calm_below: float = 0.0) -> UrgencyScorer:
        labels = [urgent for _, urgent in examples]
        if len(set(labels)) < 2:
            raise ValueError("the urgency examples need both urgent and normal calls")
        vectorizer = char_grams_vectorizer()
        features = vectorizer.fit_transform([text for text, _ in examples])
        # liblinear's dual problem (far fewer calls than n-grams): ~1.6 s -> ~0.2 s to fit 3,736 calls at every router
        # start; lbfgs' probabilities differed by at most 0.01 and no call of the 33 dispatch sets moved. A fixed seed: the
        # same model at every start (liblinear shuffles; unseeded, probabilities moved by ~1e-6 between starts).
        model = LogisticRegression(
            C=4.0, solver="liblinear", dual=True, class_weight="balanced", max_iter=2000, random_state=0
        )
        model.fit(features, labels)
        return cls(vectorizer, model, threshold, calm_below)

    @classmethod
    def load(cls, path: Path = EXAMPLES_PATH, *, threshold: float = 0.65, calm_below: float = 0.0) -> UrgencyScorer:
        return cls.train(example_rows(path), threshold=threshold, calm_below=calm_below)

    def scores(self, texts: Sequence[str]) -> list[float]:
        """The probability of each text being a life-or-safety call."""
        if not texts:
            return []
        return [float(p) for p in self.fast.probabilities(texts)[:, 0]]

    def flags(self, calls: Sequence[Call]) -> list[float | None]:
        """For each call, its probability when it reaches the threshold (urgent by the scorer), else None."""
        return [judgement.flag for judgement in self.judge(calls)]

    def judge(self, calls: Sequence[Call]) -> list[UrgencyJudgement]:
        """For each call, its flag and whether the scorer is calm about it (``UrgencyJudgement``)."""
        scores = self.scores([scored_text(call) for call in calls])
        return [
            UrgencyJudgement(round(score, 3) if score >= self.threshold else None, score < self.calm_below)
            for score in scores
        ]


def load_urgency_scorer(settings: RouterSettings) -> UrgencyScorer | None:
    """The scorer with the router's threshold and calm bound, trained on the shipped examples; None when off."""
    if not settings.learned_urgency:
        return None
    return UrgencyScorer.load(
        threshold=settings.learned_urgency_threshold, calm_below=settings.learned_urgency_calm_below
    )
