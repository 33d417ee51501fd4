"""The classifier: level 1 by a calibrated linear model over character n-grams, levels 2/3 and the Monthly
Question by lexical rules. Pure: no I/O besides loading the artifact."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from services.classifier.features import (
    DEFAULT_SUBJECT_WEIGHT,
    MAX_CHARS,
    BigramFilter,
    Featuriser,
    Vocabulary,
    full_text,
    message_text,
)
from services.classifier.issues import (
    MonthlyQuestion,
    keyword_openings,
    load_monthly_questions,
    match_monthly_question,
)
from services.classifier.multilingual import EnglishHead, embed, encoder_available, is_latin_script
from services.classifier.taxonomy import (
    ITEM_SYNONYM_WEIGHT,
    MIN_SCORE,
    BranchMatcher,
    LeafMatch,
    LexiconEvidence,
    level1_names,
    load_synonyms,
)
from shared.events import Classification
from shared.reference import load_taxonomy

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
ARRAYS_FILE = "classifier.npz"
METADATA_FILE = "classifier.json"
DEFAULT_MIN_CONFIDENCE = 0.5
EXPLANATION_TERMS = 5
LEXICON_HINT_BELOW = 0.9
"""Model confidence under which strong lexicon evidence for a class the model never learned becomes a hint."""
STRONG_LEXICON = 2.0
"""Lexicon strength (distinct words; a long specific word counts 1.5) that makes evidence strong."""
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


LEVEL_FEATURES = ("bias", "log1p(score)", "log1p(margin)", "by_embedding")
DEFAULT_LEVEL_WEIGHTS = (-1.0, 1.0, 1.0, 0.0)
"""Weights before any calibration (an artifact without ``level_calibration``): a rough guess, not fitted."""


def level_features(score: float, margin: float, by_embedding: bool) -> tuple[float, float, float, float]:
    """What a level-2/3 confidence is computed from: how strongly and how clearly the leaf won."""
    return (1.0, math.log1p(max(score, 0.0)), math.log1p(max(margin, 0.0)), float(by_embedding))


def logistic(weights: Sequence[float], features: Sequence[float]) -> float:
    """sigmoid(weights . features), plain floats (called once per call and level: numpy would cost more)."""
    if len(weights) != len(features):
        raise ValueError(f"{len(weights)} weights for {len(features)} features")
    value = sum(map(operator.mul, weights, features))  # the same sum, term by term from the left
    return 1.0 / (1.0 + math.exp(-max(min(value, 50.0), -50.0)))


@dataclass(frozen=True)
class LevelCalibration:
    """P(level 2 right | level 1 right) and P(level 3 right | level 2 right) by logistic regression on
    ``level_features``; fitted by ``hotline train`` on the labelled team-written sets."""

    level2: tuple[float, ...] = DEFAULT_LEVEL_WEIGHTS
    level3: tuple[float, ...] = DEFAULT_LEVEL_WEIGHTS

    def conditional(self, choice: LeafChoice) -> tuple[float, float]:
        """(P(level 2 right | level 1 right), P(level 3 right | level 2 right)) of a leaf choice."""
        features2 = level_features(choice.score, choice.level2_margin, choice.by_embedding)
        features3 = level_features(choice.score, choice.level3_margin, choice.by_embedding)
        return logistic(self.level2, features2), logistic(self.level3, features3)

    @classmethod
    def from_metadata(cls, metadata: dict) -> LevelCalibration:
        fitted = metadata.get("level_calibration") or {}
        if not fitted:
            return cls()
        return cls(tuple(fitted["level2"]), tuple(fitted["level3"]))


@dataclass(frozen=True)
class LeafChoice(LeafMatch):
    """Levels 2 and 3 chosen inside a level-1 branch, the evidence behind them, and where they came from."""

    by_embedding: bool = False
    from_programme: bool = False

    @classmethod
    def from_match(cls, found: LeafMatch) -> LeafChoice:
        return cls(**vars(found))


@dataclass
class Classifier:
    """A loaded classifier; ``predict`` classifies a whole batch with one matrix product."""

    vocabulary: Featuriser
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
    levels: LevelCalibration = field(default_factory=LevelCalibration)

    @cached_property
    def unlearned_classes(self) -> list[str]:
        """Level-1 categories the linear model never saw, or saw too rarely (a few corrections) to predict."""
        counts = self.metadata.get("data", {}).get("class_counts", {})
        return [
            name
            for name in level1_names()
            if name not in self.classes or counts.get(name, MIN_LEARNED_ROWS) < MIN_LEARNED_ROWS
        ]

    @cached_property
    def bigram_filter(self) -> BigramFilter:
        """The bigrams the lexical steps look at (lexicon and Monthly Question keywords), found per batch at once."""
        return BigramFilter(sorted(self.matcher.relevant_bigrams() | keyword_openings(self.questions)))

    @classmethod
    def load(cls, path: Path | str | None = None, *, min_confidence: float | None = None) -> Classifier:
        """Load the artifact in ``path`` (its directory or its .npz file); default: the shipped one."""
        location = Path(path) if path is not None else ARTIFACT_DIR
        directory = location if location.is_dir() else location.parent
        arrays_path = location if location.suffix == ".npz" else directory / ARRAYS_FILE
        metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        with np.load(arrays_path, allow_pickle=False) as arrays:
            vocabulary = Featuriser(
                text=Vocabulary(keys=arrays["keys"], idf=arrays["idf"]),
                subject=Vocabulary(keys=arrays["subject_keys"], idf=arrays["subject_idf"]),
                subject_weight=float(metadata.get("params", {}).get("subject_weight", DEFAULT_SUBJECT_WEIGHT)),
                max_chars=int(metadata.get("params", {}).get("feature_chars", MAX_CHARS)),
            )
            coef, intercept = arrays["coef"], arrays["intercept"]
            english = None
            if "en_coef" in arrays.files and encoder_available():
                english = EnglishHead(
                    coef=arrays["en_coef"],
                    intercept=arrays["en_intercept"],
                    leaf_names=[tuple(leaf) for leaf in metadata["english"]["leaves"]],  # type: ignore[misc]
                    leaf_vectors=arrays["en_leaf_vectors"],
                    normalise=bool(metadata["english"].get("normalise", True)),
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
            levels=LevelCalibration.from_metadata(metadata),
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
            "keys": self.vocabulary.text.keys,
            "idf": self.vocabulary.text.idf,
            "subject_keys": self.vocabulary.subject.keys,
            "subject_idf": self.vocabulary.subject.idf,
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
            "level_calibration": {
                "features": list(LEVEL_FEATURES),
                "level2": self.levels.level2,
                "level3": self.levels.level3,
            },
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

    def warm_up(self) -> None:
        """Load what the first calls would otherwise load on the way: the English encoder (bundled weights and
        tokenizer, read lazily on the first Latin-script call) and the numpy paths, by classifying one Chinese
        and one English call. Without it the first English call of a worker's life waits ~0.2-2 s, and so does
        every call of its batch."""
        self.predict(
            [("小区停水", "我们小区从早上开始停水了"), ("Water outage", "No water in our building since this morning")]
        )

    def predict_texts(self, texts: Sequence[str]) -> list[Classification]:
        """Classify texts already normalised by ``message_text``."""
        return [decision for decision, _ in self.decide_texts(texts)]

    def decide_texts(self, texts: Sequence[str]) -> list[tuple[Classification, LeafChoice | None]]:
        """Each text's classification and the level-2/3 evidence behind it (None for unreadable text)."""
        if not texts:
            return []
        ngrams = self.vocabulary.whole_ngrams(texts)
        features = self.vocabulary.transform(texts, ngrams)
        probabilities = softmax(self.decision_scores(features), self.temperature)
        best = probabilities.argmax(axis=1)
        explanations = self._explanations(features, best)
        english_rows = [row for row, text in enumerate(texts) if is_latin_script(text)] if self.english else []
        vectors = self._english(texts, english_rows, probabilities, best, explanations)
        fallback = int(np.argmax(self.intercept))
        shared = self.vocabulary.reads_whole_text and self.bigram_filter.ignores_joins
        bigram_sets = self.bigram_filter.present(texts, ngrams if shared else None)
        # Per row as plain Python values, read once for the batch (after the English rows were overwritten).
        chosen = best.tolist()
        confidences = probabilities[np.arange(len(texts)), best].tolist()
        no_features = (np.diff(features.indptr) == 0).tolist()
        results: list[tuple[Classification, LeafChoice | None]] = []
        for row, text in enumerate(texts):
            if not has_content(text) or (no_features[row] and row not in vectors):
                results.append((self._unreadable(text, fallback), None))
                continue
            category = self.classes[chosen[row]]
            confidence = confidences[row]
            bigrams = bigram_sets[row]
            hint = self.unlearned_hint(text, category, confidence, bigrams)
            results.append(self._decide(text, category, confidence, explanations[row], vectors.get(row), hint, bigrams))
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

        vectors = embed([full_text(texts[row])[:ENGLISH_CHARS] for row in rows], normalise=self.english.normalise)
        english = self.english.probabilities(vectors)
        for position, row in enumerate(rows):
            probabilities[row] = english[position]
            best[row] = int(english[position].argmax())
            explanations[row] = self._lexicon_terms(self.classes[int(best[row])], texts[row])
        return dict(zip(rows, vectors, strict=True))

    def _lexicon_terms(self, category: str, text: str) -> list[str]:
        return list(self.matcher.evidence(category, text).words)[:EXPLANATION_TERMS]

    def unlearned_hint(
        self, text: str, category: str, confidence: float, bigrams: set[str] | None = None
    ) -> LexiconEvidence | None:
        """Strong lexicon evidence for a class the model cannot predict, when the model itself is unsure: a hint
        for the reviewer, never the decision (the model's answer stays; the call is sent to review)."""
        if confidence >= LEXICON_HINT_BELOW:
            return None
        candidate = self.matcher.strongest(text, self.unlearned_classes, bigrams)
        if candidate.strength < STRONG_LEXICON:
            return None
        if candidate.strength <= self.matcher.evidence(category, text, bigrams).strength:
            return None
        return candidate

    def decide_in(self, text: str, category: str, confidence: float) -> Classification:
        """The decision for ``text`` placed in ``category`` by someone else (a citizen's chosen service) with
        level-1 probability ``confidence``: levels 2/3 chosen inside that branch, each with its confidence."""
        decision, _ = self._decide(text, category, confidence, self._lexicon_terms(category, text))
        return decision

    def choose_leaf(
        self,
        text: str,
        category: str,
        vector: np.ndarray | None = None,
        question: MonthlyQuestion | None = None,
        bigrams: set[str] | None = None,
    ) -> LeafChoice:
        """Levels 2/3 inside ``category``: the 每月一题 problem's leaf (``question``, matched by the caller), else the
        lexicon's best leaf, else (English with nothing in the lexicon) the nearest leaf name by embedding, else
        the branch's 其他 leaf."""
        if question is not None and question.category == category and question.subcategory:
            # A programme keyword rule counts like one item synonym (ITEM_SYNONYM_WEIGHT) won by that much.
            strength = ITEM_SYNONYM_WEIGHT
            return LeafChoice(
                question.subcategory, question.item, [], strength, strength, strength, from_programme=True
            )
        found = LeafChoice.from_match(self.matcher.rank(category, text, bigrams))
        if found.score < MIN_SCORE and vector is not None and self.english is not None:
            level2, level3, similarity = self.english.nearest_leaf(category, vector)
            if level2 is not None and similarity >= LEAF_SIMILARITY:
                return LeafChoice(level2, level3, found.words, similarity, similarity, similarity, by_embedding=True)
        return found

    def _decide(
        self,
        text: str,
        category: str,
        confidence: float,
        explanation: list[str],
        vector: np.ndarray | None = None,
        hint: LexiconEvidence | None = None,
        bigrams: set[str] | None = None,
    ) -> tuple[Classification, LeafChoice]:
        question = match_monthly_question(text, self.questions, category, bigrams)
        choice = self.choose_leaf(text, category, vector, question, bigrams)
        if not choice.from_programme:
            explanation = merge_explanation(choice.words, explanation)
        level2_given_1, level3_given_2 = self.levels.conditional(choice)
        confidence = min(max(confidence, 0.0), 1.0)
        level2_confidence = confidence * level2_given_1
        decision = Classification(
            category=category,
            subcategory=choice.level2,
            item=choice.level3,
            issue=question.id if question else None,
            confidence=round(confidence, 4),
            subcategory_confidence=round(level2_confidence, 4) if choice.level2 else None,
            item_confidence=round(level2_confidence * level3_given_2, 4) if choice.level3 else None,
            model_version=self.model_version,
            explanation=explanation,
            suggested_category=hint.level1 if hint else None,
            suggested_terms=list(hint.words)[:EXPLANATION_TERMS] if hint else [],
            needs_review=confidence < self.min_confidence or hint is not None,
        )
        return decision, choice

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
        n_rows = features.shape[0]
        rows = np.repeat(np.arange(n_rows), np.diff(features.indptr))
        # The chosen class's weight of every stored feature, by one gather from the flat (features x classes)
        # array: the same float32 numbers as coef[best[rows], indices], without numpy's 2-D fancy indexing.
        weights = self._weights_by_feature.take(features.indices * len(self.intercept) + best[rows])
        contributions = features.data * weights
        # One sort for the whole batch: by row, then by contribution, largest first; only positive ones count.
        # Equal contributions (n-grams that always occur together) keep reversed column order: a longer n-gram
        # has a larger key, so it comes before the shorter ones inside it.
        positive = np.flatnonzero(contributions > 0)[::-1]
        spread = 2.0 * float(contributions[positive].max()) + 1.0 if len(positive) else 1.0
        order = positive[np.argsort(rows[positive] * spread - contributions[positive], kind="stable")]
        # Only a row's first EXPLANATION_TERMS * 4 n-grams are looked at: their columns, as one Python list.
        sorted_rows = rows[order]
        starts = np.searchsorted(sorted_rows, np.arange(n_rows + 1))
        looked_at = np.arange(len(order)) - starts[sorted_rows] < EXPLANATION_TERMS * 4
        columns = features.indices[order[looked_at]].tolist()
        bounds = [0, *np.cumsum(np.minimum(np.diff(starts), EXPLANATION_TERMS * 4)).tolist()]
        return [self._explanation(columns[bounds[row] : bounds[row + 1]]) for row in range(n_rows)]

    @cached_property
    def _weights_by_feature(self) -> np.ndarray:
        """``coef`` as one flat array, feature by feature (each feature's class weights side by side): a view of
        the shipped artifact's column-major array, copied once if ``coef`` is laid out otherwise."""
        return np.ascontiguousarray(self.coef.T).ravel()

    def _explanation(self, columns: list[int]) -> list[str]:
        """Up to EXPLANATION_TERMS n-grams of ``columns`` (strongest first) that are words or numbers and are
        neither inside nor around one kept before."""
        terms: list[str] = []
        for column in columns:
            term = self._term(column)
            if not term.isalnum():
                continue
            for kept in terms:
                if term in kept or kept in term:
                    break
            else:
                terms.append(term)
                if len(terms) == EXPLANATION_TERMS:
                    break
        return terms

    def _term(self, column: int) -> str:
        """The n-gram of a feature column, stripped; remembered (explanations ask for the same few often)."""
        term = self._terms.get(column)
        if term is None:
            term = self._terms[column] = self.vocabulary.term(column).strip()
        return term

    @cached_property
    def _terms(self) -> dict[int, str]:
        return {}


LEXICON_TERMS = 3


def merge_explanation(words: Sequence[str], ngrams: Sequence[str]) -> list[str]:
    """Up to 3 lexicon words of the chosen branch, then the model's n-grams that are not part of them
    (single characters only if nothing longer is left), at most EXPLANATION_TERMS terms."""
    terms: list[str] = []
    for word in words:
        if len(terms) == LEXICON_TERMS:
            break
        if not any(word in kept for kept in words[: words.index(word)]):
            terms.append(word)
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
