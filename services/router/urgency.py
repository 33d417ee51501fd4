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
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

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


def char_grams_vectorizer() -> TfidfVectorizer:
    """The TF-IDF that ``LinearCharGrams`` evaluates: char_wb 1-3-grams, sublinear tf, lower-cased, l2 norm."""
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, lowercase=True)


def positive_weights(model: LogisticRegression) -> tuple[np.ndarray, np.ndarray]:
    """A binary model's coefficients and intercept for its ``True`` class (sklearn's are for ``classes_[1]``)."""
    sign = 1.0 if list(model.classes_).index(True) == 1 else -1.0
    return sign * model.coef_[0], sign * model.intercept_[0]


_CODE_BITS = 21  # a Unicode code point fits in 21 bits, so an n-gram of up to 3 characters in 63


class LinearCharGrams:
    """The fitted TF-IDF (char_wb 1-3-grams, sublinear tf, l2 norm) and logistic regression, evaluated in numpy.

    sklearn's ``transform`` builds every n-gram of a text as a Python string and looks it up one by one: on a
    real message of a few hundred characters that was ~1 ms of the router's CPU per call, a third of all it
    did (py-spy, ``hotline bench``). Here each text's n-grams are integer keys computed from its code points
    for the whole batch at once and looked up in the sorted keys of the vocabulary (``np.searchsorted``);
    the counts, the tf-idf weights, the norm and the dot product with the model's weights are sums per text
    (``np.bincount``). It gives sklearn's probabilities (a unit test compares them); n-grams that are not in
    the vocabulary count for nothing in either.

    Texts are laid end to end, each word padded with a space as ``char_wb`` does, so adjacent words (and
    adjacent texts) meet in two spaces: an n-gram spanning a boundary holds two spaces, which no padded word
    has, so it is never in the vocabulary and never counted.
    """

    def __init__(self, vectorizer: TfidfVectorizer, coef: np.ndarray, intercept: np.ndarray) -> None:
        """``coef`` (outputs x features) and ``intercept`` (outputs): one linear model per output."""
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for n in (1, 2, 3):
            grams = [(self._key(gram), index) for gram, index in vocabulary.items() if len(gram) == n]
            grams.sort()
            keys = np.array([key for key, _ in grams], dtype=np.int64)
            features = np.array([index for _, index in grams], dtype=np.int64)
            self.tables[n] = (keys, features)
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.weights = np.ascontiguousarray(np.asarray(coef, dtype=np.float64).T)  # features x outputs
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.lowercase = bool(vectorizer.lowercase)

    @staticmethod
    def _key(gram: str) -> int:
        key = 0
        for char in gram:
            key = (key << _CODE_BITS) | ord(char)
        return key

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's probability per output (texts x outputs), the logistic of its linear model."""
        padded = ["".join(f" {word} " for word in (text.lower() if self.lowercase else text).split()) for text in texts]
        lengths = np.array([len(text) for text in padded], dtype=np.int64)
        codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)  # the text each position belongs to
        found_owner: list[np.ndarray] = []
        found_feature: list[np.ndarray] = []
        for n, (keys, features) in self.tables.items():
            if len(codes) < n or not len(keys):
                continue
            grams = codes[: len(codes) - n + 1].copy()
            for offset in range(1, n):
                grams = (grams << _CODE_BITS) | codes[offset : len(codes) - n + 1 + offset]
            at = np.searchsorted(keys, grams).clip(max=len(keys) - 1)
            hit = keys[at] == grams
            found_owner.append(owner[: len(codes) - n + 1][hit])
            found_feature.append(features[at[hit]])
        size = len(self.idf)
        pairs, counts = np.unique(
            np.concatenate(found_owner or [np.empty(0, np.int64)]) * size
            + np.concatenate(found_feature or [np.empty(0, np.int64)]),
            return_counts=True,
        )
        text_of, feature_of = np.divmod(pairs, size)
        values = (1.0 + np.log(counts)) * self.idf[feature_of]
        norms = np.sqrt(np.bincount(text_of, weights=values * values, minlength=len(texts)))
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)[text_of]
        dots = csr_matrix((values * scale, (text_of, feature_of)), shape=(len(texts), size)) @ self.weights
        return 1.0 / (1.0 + np.exp(-(self.intercept + dots)))


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
        # start; lbfgs' probabilities differed by at most 0.01 and no call of the 33 dispatch sets moved.
        model = LogisticRegression(C=4.0, solver="liblinear", dual=True, class_weight="balanced", max_iter=2000)
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
