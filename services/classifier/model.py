"""The classifier: level 1 by a calibrated linear model over character n-grams, levels 2/3 and the Monthly
Question by lexical rules. Pure: no I/O besides loading the artifact."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from services.classifier.features import Vocabulary, key_to_text, message_text
from services.classifier.issues import MonthlyQuestion, load_monthly_questions, match_monthly_question
from services.classifier.multilingual import EnglishHead, embed, encoder_available, is_latin_script
from services.classifier.taxonomy import BranchMatcher, LexiconEvidence, level1_names, load_synonyms
from shared.events import Classification
from shared.reference import load_taxonomy

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
ARRAYS_FILE = "classifier.npz"
METADATA_FILE = "classifier.json"
DEFAULT_MIN_CONFIDENCE = 0.5
EXPLANATION_TERMS = 5
LEXICON_OVERRIDE_BELOW = 0.9
"""Model confidence under which strong lexicon evidence for a class the model never learned wins."""
STRONG_LEXICON = 2.0
"""Lexicon strength (distinct words; a long specific word counts 1.5) that makes evidence strong."""
LEXICON_CONFIDENCE = 0.45
"""Confidence of a lexicon decision: fixed and uncalibrated (no labelled data), below the default review threshold
so that a person confirms the suggested class."""
MIN_LEARNED_ROWS = 30
"""Training rows a class needs before the lexicon rule stops standing in for it."""
LEAF_SIMILARITY = 0.3
"""Cosine similarity of an English text to a level-2/3 name below which no leaf is chosen."""


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
    english: EnglishHead | None = None

    @cached_property
    def unlearned_classes(self) -> list[str]:
        """Level-1 categories the linear model never saw, or saw too rarely (a few corrections) to predict."""
        counts = self.metadata.get("data", {}).get("class_counts", {})
        return [
            name
            for name in level1_names()
            if name not in self.classes or counts.get(name, MIN_LEARNED_ROWS) < MIN_LEARNED_ROWS
        ]

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
            english = None
            if "en_coef" in arrays.files and encoder_available():
                english = EnglishHead(
                    coef=arrays["en_coef"],
                    intercept=arrays["en_intercept"],
                    leaf_names=[tuple(leaf) for leaf in metadata["english"]["leaves"]],  # type: ignore[misc]
                    leaf_vectors=arrays["en_leaf_vectors"],
                )
        return cls(
            vocabulary=vocabulary,
            coef=coef,
            intercept=intercept,
            classes=list(metadata["classes"]),
            temperature=float(metadata["temperature"]),
            model_version=str(metadata["model_version"]),
            min_confidence=DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence,
            metadata=metadata,
            english=english,
        )

    def save(self, directory: Path) -> None:
        """Write the artifact: arrays as .npz (no pickle) and the metadata as JSON."""
        directory.mkdir(parents=True, exist_ok=True)
        english: dict[str, np.ndarray] = {}
        if self.english is not None:
            english = {
                "en_coef": self.english.coef,
                "en_intercept": self.english.intercept,
                "en_leaf_vectors": self.english.leaf_vectors,
            }
        arrays = {
            "keys": self.vocabulary.keys,
            "idf": self.vocabulary.idf,
            "coef": self.coef,
            "intercept": self.intercept,
            **english,
        }
        np.savez_compressed(directory / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]
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
        return self.predict_texts([message_text(_as_text(subject), _as_text(body)) for subject, body in items])

    def predict_texts(self, texts: Sequence[str]) -> list[Classification]:
        """Classify texts already normalised by ``message_text``."""
        if not texts:
            return []
        features = self.features(texts)
        probabilities = softmax(self.decision_scores(features), self.temperature)
        best = probabilities.argmax(axis=1)
        explanations = self._explanations(features, best)
        english_rows = [row for row, text in enumerate(texts) if is_latin_script(text)] if self.english else []
        vectors = self._english(texts, english_rows, probabilities, best, explanations)
        fallback = int(np.argmax(self.intercept))
        results = []
        for row, text in enumerate(texts):
            if not has_content(text) or (features.indptr[row] == features.indptr[row + 1] and row not in vectors):
                results.append(self._unreadable(text, fallback))
                continue
            category = self.classes[int(best[row])]
            confidence = float(probabilities[row, best[row]])
            explanation = explanations[row]
            lexicon = self._unlearned_evidence(text, category, confidence)
            if lexicon is not None:
                category, confidence = lexicon.level1, LEXICON_CONFIDENCE
                explanation = list(lexicon.words)[:EXPLANATION_TERMS]
            results.append(self._decide(text, category, confidence, explanation, vectors.get(row)))
        return results

    def _english(
        self,
        texts: Sequence[str],
        rows: list[int],
        probabilities: np.ndarray,
        best: np.ndarray,
        explanations: list[list[str]],
    ) -> dict[int, np.ndarray]:
        """Overwrite the level-1 figures of Latin-script rows with the embedding head's; their vectors by row."""
        if not rows or self.english is None:
            return {}
        from services.classifier.multilingual import ENGLISH_CHARS

        vectors = embed([texts[row][:ENGLISH_CHARS] for row in rows])
        english = self.english.probabilities(vectors)
        for position, row in enumerate(rows):
            probabilities[row] = english[position]
            best[row] = int(english[position].argmax())
            explanations[row] = self._lexicon_terms(self.classes[int(best[row])], texts[row])
        return dict(zip(rows, vectors, strict=True))

    def _lexicon_terms(self, category: str, text: str) -> list[str]:
        return list(self.matcher.evidence(category, text).words)[:EXPLANATION_TERMS]

    def _unlearned_evidence(self, text: str, category: str, confidence: float) -> LexiconEvidence | None:
        """Strong lexicon evidence for a class the model cannot predict, when the model itself is unsure."""
        if confidence >= LEXICON_OVERRIDE_BELOW:
            return None
        candidate = self.matcher.strongest(text, self.unlearned_classes)
        if candidate.strength < STRONG_LEXICON:
            return None
        if candidate.strength <= self.matcher.evidence(category, text).strength:
            return None
        return candidate

    def _decide(
        self,
        text: str,
        category: str,
        confidence: float,
        explanation: list[str],
        vector: np.ndarray | None = None,
    ) -> Classification:
        question = match_monthly_question(text, self.questions, category)
        subcategory: str | None
        item: str | None
        if question is not None and question.category == category and question.subcategory:
            subcategory, item = question.subcategory, question.item
        else:
            subcategory, item, words = self.matcher.match_with_words(category, text)
            explanation = merge_explanation(words, explanation)
            if subcategory is None and vector is not None and self.english is not None:
                subcategory, item = self.english.nearest_leaf(category, vector, LEAF_SIMILARITY)
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


LEXICON_TERMS = 3


def merge_explanation(words: Sequence[str], ngrams: Sequence[str]) -> list[str]:
    """Up to 3 lexicon words of the chosen branch, then the model's n-grams that are not part of them
    (single characters only if nothing longer is left), at most EXPLANATION_TERMS terms."""
    terms = [word for word in words if not any(word in kept for kept in words[: words.index(word)])]
    terms = terms[:LEXICON_TERMS]
    rest = [gram for gram in ngrams if not any(gram in term or term in gram for term in terms)]
    longer = [gram for gram in rest if len(gram) > 1]
    for gram in longer + [gram for gram in rest if len(gram) == 1]:
        if len(terms) >= EXPLANATION_TERMS:
            break
        if gram not in terms:
            terms.append(gram)
    return terms


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
