"""The classifier: level 1 by a calibrated linear model over character n-grams, levels 2/3 and the Monthly
Question by lexical rules. Pure: no I/O besides loading the artifact."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from services.classifier.features import Vocabulary, key_to_text, message_text
from services.classifier.issues import MonthlyQuestion, load_monthly_questions, match_monthly_question
from services.classifier.taxonomy import BranchMatcher, load_synonyms, load_taxonomy
from shared.events import Classification

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
ARRAYS_FILE = "classifier.npz"
METADATA_FILE = "classifier.json"
DEFAULT_MIN_CONFIDENCE = 0.5
EXPLANATION_TERMS = 5


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores * temperature`` (temperature scaling calibrates linear margins)."""
    scaled = scores * temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum(axis=1, keepdims=True)
    return scaled


MIN_DISTINCT_CHARACTERS = 4


def has_content(text: str) -> bool:
    """True when the text has a few different letters, digits or CJK characters (not only punctuation, emoji
    or one character repeated)."""
    distinct: set[str] = set()
    for char in text:
        if char.isalnum():
            distinct.add(char)
            if len(distinct) >= MIN_DISTINCT_CHARACTERS:
                return True
    return False


@dataclass
class Classifier:
    """A loaded classifier; ``predict`` classifies a whole batch with one matrix product."""

    vocabulary: Vocabulary
    coef: np.ndarray  # (classes, features) float32
    intercept: np.ndarray  # (classes,) float32
    classes: list[str]
    temperature: float
    model_version: str
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    matcher: BranchMatcher = field(default_factory=lambda: BranchMatcher(load_taxonomy(), load_synonyms()))
    questions: tuple[MonthlyQuestion, ...] = field(default_factory=load_monthly_questions)
    metadata: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str | None = None, *, min_confidence: float | None = None) -> Classifier:
        """Load the artifact in ``path`` (its directory or its .npz file); default: the shipped one."""
        location = Path(path) if path is not None else ARTIFACT_DIR
        directory = location if location.is_dir() else location.parent
        arrays_path = location if location.suffix == ".npz" else directory / ARRAYS_FILE
        metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        with np.load(arrays_path, allow_pickle=False) as arrays:
            vocabulary = Vocabulary(keys=arrays["keys"], idf=arrays["idf"])
            coef, intercept = arrays["coef"], arrays["intercept"]
        return cls(
            vocabulary=vocabulary,
            coef=coef,
            intercept=intercept,
            classes=list(metadata["classes"]),
            temperature=float(metadata["temperature"]),
            model_version=str(metadata["model_version"]),
            min_confidence=DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence,
            metadata=metadata,
        )

    def save(self, directory: Path) -> None:
        """Write the artifact: arrays as .npz (no pickle) and the metadata as JSON."""
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            directory / ARRAYS_FILE,
            keys=self.vocabulary.keys,
            idf=self.vocabulary.idf,
            coef=self.coef,
            intercept=self.intercept,
        )
        document = {
            **self.metadata,
            "classes": self.classes,
            "temperature": self.temperature,
            "model_version": self.model_version,
        }
        (directory / METADATA_FILE).write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.vocabulary.transform(texts)

    def decision_scores(self, features: sp.csr_matrix) -> np.ndarray:
        return np.asarray(features @ self.coef.T, dtype=np.float64) + self.intercept

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated level-1 probabilities of normalised texts, columns in ``classes`` order."""
        return softmax(self.decision_scores(self.features(texts)), self.temperature)

    def predict(self, items: Sequence[tuple[str, str]]) -> list[Classification]:
        """Classify (subject, body) pairs; never raises on odd text (it goes to manual review instead)."""
        texts = [message_text(_as_text(subject), _as_text(body)) for subject, body in items]
        if not texts:
            return []
        features = self.features(texts)
        probabilities = softmax(self.decision_scores(features), self.temperature)
        best = probabilities.argmax(axis=1)
        explanations = self._explanations(features, best)
        fallback = int(np.argmax(self.intercept))
        results = []
        for row, text in enumerate(texts):
            if not has_content(text) or features.indptr[row] == features.indptr[row + 1]:
                results.append(self._unreadable(text, fallback))
                continue
            category = self.classes[int(best[row])]
            confidence = float(probabilities[row, best[row]])
            results.append(self._decide(text, category, confidence, explanations[row]))
        return results

    def _decide(self, text: str, category: str, confidence: float, explanation: list[str]) -> Classification:
        question = match_monthly_question(text, self.questions, category)
        subcategory: str | None
        item: str | None
        if question is not None and question.category == category and question.subcategory:
            subcategory, item = question.subcategory, question.item
        else:
            subcategory, item = self.matcher.match(category, text)
        return Classification(
            category=category,
            subcategory=subcategory,
            item=item,
            issue=question.id if question else None,
            confidence=round(min(max(confidence, 0.0), 1.0), 4),
            model_version=self.model_version,
            explanation=explanation,
            needs_review=confidence < self.min_confidence,
        )

    def _unreadable(self, text: str, fallback: int) -> Classification:
        """Nothing the model knows in the text: the most common category at chance level, for manual sorting."""
        question = match_monthly_question(text, self.questions)
        return Classification(
            category=self.classes[fallback],
            issue=question.id if question else None,
            confidence=round(1.0 / len(self.classes), 4),
            model_version=self.model_version,
            explanation=[],
            needs_review=True,
        )

    def _explanations(self, features: sp.csr_matrix, best: np.ndarray) -> list[list[str]]:
        """Per row, the n-grams that added most to the chosen class's score, longest-first without overlaps."""
        rows = np.repeat(np.arange(features.shape[0]), np.diff(features.indptr))
        contributions = features.data * self.coef[best[rows], features.indices]
        explanations: list[list[str]] = []
        for row in range(features.shape[0]):
            start, end = features.indptr[row], features.indptr[row + 1]
            if start == end:
                explanations.append([])
                continue
            values = contributions[start:end]
            top = np.argsort(-values)[: EXPLANATION_TERMS * 4]
            terms: list[str] = []
            for index in top:
                if values[index] <= 0 or len(terms) == EXPLANATION_TERMS:
                    break
                term = key_to_text(int(self.vocabulary.keys[features.indices[start + index]])).strip()
                if not term.isalnum() or any(term in kept or kept in term for kept in terms):
                    continue
                terms.append(term)
            explanations.append(terms)
        return explanations


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
