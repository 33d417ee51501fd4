"""A small learned urgency scorer, combined with the catalogue's life-or-safety rules.

Keyword cues match the hazards someone thought of, in the words they thought of; on calls written later they
found about half of the life-or-safety calls. This scorer learns the same decision from labelled calls
(character 1-3-grams, TF-IDF, a class-balanced logistic regression) and is trained when the router starts,
in milliseconds, on ``data/urgency_examples.jsonl``: calls written and labelled by the team (the blind set
``tests/data/dispatch_calls_blind.jsonl``), never the classifier's corpus. A call is urgent when a
life-or-safety rule matches OR the scorer's probability reaches the threshold
(``HOTLINE_ROUTER_LEARNED_URGENCY_THRESHOLD``); ``HOTLINE_ROUTER_LEARNED_URGENCY=false`` leaves the rules alone.
Its figures on sets it never saw are in docs/routing.md ("Urgency").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

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


@dataclass(frozen=True)
class UrgencyScorer:
    """The probability that a call is life-or-safety, and the threshold from which it counts as urgent."""

    vectorizer: TfidfVectorizer
    model: LogisticRegression
    threshold: float

    @classmethod
    def train(cls, examples: Sequence[tuple[str, bool]], *, threshold: float) -> UrgencyScorer:
        labels = [urgent for _, urgent in examples]
        if len(set(labels)) < 2:
            raise ValueError("the urgency examples need both urgent and normal calls")
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, lowercase=True)
        features = vectorizer.fit_transform([text for text, _ in examples])
        model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000).fit(features, labels)
        return cls(vectorizer, model, threshold)

    @classmethod
    def load(cls, path: Path = EXAMPLES_PATH, *, threshold: float = 0.65) -> UrgencyScorer:
        return cls.train(example_rows(path), threshold=threshold)

    def scores(self, texts: Sequence[str]) -> list[float]:
        """The probability of each text being a life-or-safety call."""
        if not texts:
            return []
        column = list(self.model.classes_).index(True)
        return [float(p) for p in self.model.predict_proba(self.vectorizer.transform(list(texts)))[:, column]]

    def flags(self, calls: Sequence[Call]) -> list[float | None]:
        """For each call, its probability when it reaches the threshold (urgent by the scorer), else None."""
        scores = self.scores([f"{call.subject}\n{call.body}" for call in calls])
        return [round(score, 3) if score >= self.threshold else None for score in scores]
