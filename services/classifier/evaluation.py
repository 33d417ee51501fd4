"""Figures beyond the cross-validated level-1 macro-F1: the review-threshold trade-off, agreement with the
team-written labelled sets (levels 1-3 in Chinese, English requests), the level-2/3 confidences' calibration,
and level 1 on the shift set (messages written unlike the training CSV, never trained on).

``python -m services.classifier.evaluation`` prints them for the shipped (or ``--model``) artifact.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold

from services.classifier.features import message_text
from services.classifier.model import (
    DEFAULT_LEVEL_WEIGHTS,
    LEVEL_FEATURES,
    Classifier,
    LevelCalibration,
    level_features,
)
from services.classifier.validation import group_bootstrap_interval

TEAM_DATA = Path(__file__).resolve().parents[2] / "tests" / "unit" / "classifier" / "data"
LEVELS_SET = TEAM_DATA / "classifier_levels_team_written.jsonl"
ENGLISH_SET = TEAM_DATA / "classifier_english_team_written.jsonl"
SHIFT_SET = TEAM_DATA / "classifier_shift_team_written.jsonl"
SHIFT_HELDOUT_SET = TEAM_DATA / "classifier_shift2_heldout.jsonl"
"""A second shift sample, written (and committed) before any model was scored on it; scored once per model."""
ENGLISH_DEV_SET = TEAM_DATA / "classifier_english_dev_team_written.jsonl"
CALIBRATION_FOLDS = 5
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def threshold_table(
    confidence: np.ndarray, correct: np.ndarray, thresholds: Sequence[float] = THRESHOLDS
) -> list[dict]:
    """Per threshold: the share of calls sent to manual sorting (confidence below it), accuracy of the rest."""
    table = []
    for threshold in thresholds:
        kept = confidence >= threshold
        table.append(
            {
                "threshold": threshold,
                "manual_share": round(float((~kept).mean()) if len(kept) else 0.0, 4),
                "accuracy_of_rest": round(float(correct[kept].mean()) if kept.any() else 0.0, 4),
                "errors_routed_per_1000": round(float((kept & ~correct).mean() * 1000) if len(kept) else 0.0, 1),
            }
        )
    return table


def read_labelled_jsonl(path: Path) -> list[dict]:
    """The labelled rows of a team-written JSON-lines set (the leading ``_note`` line is skipped)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if "category" in row]


def agreement(model: Classifier, rows: Sequence[dict]) -> dict:
    """Level-1 accuracy, and level-2/3 agreement (overall and when level 1 is right), split by learned or not."""
    decisions = model.predict([(row.get("subject", ""), row["body"]) for row in rows])
    learned = set(model.classes)
    result: dict = {"rows": len(rows)}
    groups = {"all": rows, "learned_classes": [r for r in rows if r["category"] in learned]}
    groups["unlearned_classes"] = [r for r in rows if r["category"] not in learned]
    by_id = {id(row): decision for row, decision in zip(rows, decisions, strict=True)}
    for name, group in groups.items():
        if not group:
            continue
        level1 = [by_id[id(r)].category == r["category"] for r in group]
        level2 = [ok and by_id[id(r)].subcategory == r["subcategory"] for r, ok in zip(group, level1, strict=True)]
        level3 = [ok and by_id[id(r)].item == r["item"] for r, ok in zip(group, level2, strict=True)]
        right1 = sum(level1)
        result[name] = {
            "rows": len(group),
            "level1_accuracy": round(right1 / len(group), 4),
            "level2_accuracy": round(sum(level2) / len(group), 4),
            "level3_accuracy": round(sum(level3) / len(group), 4),
            "level2_given_level1": round(sum(level2) / right1, 4) if right1 else 0.0,
            "level3_given_level1": round(sum(level3) / right1, 4) if right1 else 0.0,
            "needs_review_share": round(sum(by_id[id(r)].needs_review for r in group) / len(group), 4),
            "hinted_share": round(sum(by_id[id(r)].suggested_category == r["category"] for r in group) / len(group), 4),
        }
    return result


def team_set_figures(model: Classifier) -> dict:
    """Agreement on both team-written sets, when they are present (they live with the tests)."""
    figures = {}
    for name, path in (("chinese_levels", LEVELS_SET), ("english", ENGLISH_SET)):
        if path.exists():
            figures[name] = {"file": path.name, **agreement(model, read_labelled_jsonl(path))}
    return figures


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Mean |confidence - accuracy| over equal-width confidence bins, weighted by the bins' shares."""
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(total)


def _fit_conditional(features: np.ndarray, right: np.ndarray, seed: int) -> tuple[float, ...]:
    """Logistic-regression weights (bias first) of P(right | features); the defaults when one outcome is missing."""
    from sklearn.linear_model import LogisticRegression

    if len(set(right.tolist())) < 2:
        return DEFAULT_LEVEL_WEIGHTS
    fitted = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(features[:, 1:], right)
    return (float(fitted.intercept_[0]), *(float(w) for w in fitted.coef_[0]))


def _level_rows(model: Classifier, rows: Sequence[dict]) -> dict[str, np.ndarray]:
    """Per labelled row: level-1 probability, the leaf evidence features, and which levels are right."""
    pairs = model.decide_texts([message_text(row.get("subject", ""), row["body"]) for row in rows])
    level1, level2, level3, confidence, features2, features3 = [], [], [], [], [], []
    for row, (decision, choice) in zip(rows, pairs, strict=True):
        right1 = decision.category == row["category"]
        right2 = right1 and decision.subcategory == row["subcategory"]
        level1.append(right1)
        level2.append(right2)
        level3.append(right2 and decision.item == row["item"])
        confidence.append(decision.confidence)
        score, margin2, margin3, by_embedding = (
            (choice.score, choice.level2_margin, choice.level3_margin, choice.by_embedding)
            if choice
            else (0, 0, 0, False)
        )
        features2.append(level_features(score, margin2, by_embedding))
        features3.append(level_features(score, margin3, by_embedding))
    return {
        "level1": np.array(level1),
        "level2": np.array(level2),
        "level3": np.array(level3),
        "confidence": np.array(confidence),
        "features2": np.array(features2),
        "features3": np.array(features3),
    }


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-values)))


def fit_level_calibration(model: Classifier, *, seed: int = 42) -> tuple[LevelCalibration, dict]:
    """P(level 2 right | level 1 right) and P(level 3 right | level 2 right), fitted on the team-written sets'
    labelled rows; the report gives presence and per-level ECE, cross-fitted (5 folds: each row's confidence
    from weights fitted without it)."""
    files = [path for path in (LEVELS_SET, ENGLISH_SET) if path.exists()]
    rows = [row for path in files for row in read_labelled_jsonl(path)]
    if not rows:
        return LevelCalibration(), {}
    data = _level_rows(model, rows)
    given1, given2 = data["level1"], data["level2"]
    calibration = LevelCalibration(
        level2=_fit_conditional(data["features2"][given1], data["level2"][given1], seed),
        level3=_fit_conditional(data["features3"][given2], data["level3"][given2], seed),
    )
    level2_confidence = np.zeros(len(rows))
    level3_confidence = np.zeros(len(rows))
    for train_index, test_index in KFold(CALIBRATION_FOLDS, shuffle=True, random_state=seed).split(rows):
        train1 = train_index[given1[train_index]]
        train2 = train_index[given2[train_index]]
        weights2 = np.array(_fit_conditional(data["features2"][train1], data["level2"][train1], seed))
        weights3 = np.array(_fit_conditional(data["features3"][train2], data["level3"][train2], seed))
        conditional2 = _sigmoid(data["features2"][test_index] @ weights2)
        conditional3 = _sigmoid(data["features3"][test_index] @ weights3)
        level2_confidence[test_index] = data["confidence"][test_index] * conditional2
        level3_confidence[test_index] = level2_confidence[test_index] * conditional3
    decisions = model.predict([(row.get("subject", ""), row["body"]) for row in rows])
    learned = np.array([row["category"] in set(model.classes) for row in rows])
    report = {
        "files": [path.name for path in files],
        "rows": len(rows),
        "features": list(LEVEL_FEATURES),
        "level2": list(calibration.level2),
        "level3": list(calibration.level3),
        "level2_present_share": round(float(np.mean([d.subcategory is not None for d in decisions])), 4),
        "level3_present_share": round(float(np.mean([d.item is not None for d in decisions])), 4),
        "accuracy": {name: round(float(data[name].mean()), 4) for name in ("level1", "level2", "level3")},
        "expected_calibration_error": {
            "level1": round(expected_calibration_error(data["confidence"], data["level1"]), 4),
            "level1_learned_classes": round(
                expected_calibration_error(data["confidence"][learned], data["level1"][learned]), 4
            ),
            "level2": round(expected_calibration_error(level2_confidence, data["level2"]), 4),
            "level3": round(expected_calibration_error(level3_confidence, data["level3"]), 4),
        },
        "method": f"{CALIBRATION_FOLDS}-fold cross-fitted on the labelled rows of the files",
    }
    return calibration, report


def shift_figures(model: Classifier, path: Path = SHIFT_SET, *, seed: int = 0) -> dict:
    """Level 1 on messages written unlike the training CSV (never trained on): macro-F1 over the learned classes
    the set has, with a 95% row-bootstrap interval, accuracy by writing style, calibration and review share."""
    if not path.exists():
        return {}
    every = read_labelled_jsonl(path)
    rows = [row for row in every if row["category"] in set(model.classes)]
    unlearned = [row for row in every if row["category"] not in set(model.classes)]
    decisions = model.predict([(row.get("subject", ""), row["body"]) for row in rows])
    truth = np.array([row["category"] for row in rows])
    predicted = np.array([d.category for d in decisions])
    classes = sorted(set(truth.tolist()))
    correct = truth == predicted
    interval = group_bootstrap_interval(truth, predicted, np.arange(len(rows)), seed=seed)
    styles: dict[str, list[bool]] = {}
    for row, right in zip(rows, correct, strict=True):
        styles.setdefault(row["style"], []).append(bool(right))
    return {
        "file": path.name,
        "rows": len(rows),
        "classes": classes,
        "macro_f1": round(float(f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)), 4),
        "macro_f1_95_interval": [round(value, 4) for value in interval],
        "accuracy": round(float(correct.mean()), 4),
        "expected_calibration_error": round(
            expected_calibration_error(np.array([d.confidence for d in decisions]), correct), 4
        ),
        "needs_review_share": round(float(np.mean([d.needs_review for d in decisions])), 4),
        "level2_with_confidence_share": round(
            float(np.mean([d.subcategory is not None and d.subcategory_confidence is not None for d in decisions])), 4
        ),
        "level3_with_confidence_share": round(
            float(np.mean([d.item is not None and d.item_confidence is not None for d in decisions])), 4
        ),
        "by_style": {
            name: {"rows": len(values), "accuracy": round(float(np.mean(values)), 4)}
            for name, values in sorted(styles.items())
        },
        **_unlearned_figures(model, unlearned),
    }


def _unlearned_figures(model: Classifier, rows: Sequence[dict]) -> dict:
    """Rows of classes the model never learned: how many get the right class as the reviewer hint, and review."""
    if not rows:
        return {}
    decisions = model.predict([(row.get("subject", ""), row["body"]) for row in rows])
    return {
        "unlearned_rows": len(rows),
        "unlearned_hinted_right": sum(
            d.suggested_category == r["category"] for d, r in zip(decisions, rows, strict=True)
        ),
        "unlearned_sent_to_review": sum(d.needs_review for d in decisions),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="artifact directory (default: shipped)")
    args = parser.parse_args(argv)
    model = Classifier.load(args.model)
    _, levels = fit_level_calibration(model)
    figures = {
        "team_written_sets": team_set_figures(model),
        "levels": levels,
        "shift": shift_figures(model),
        "shift_heldout": shift_figures(model, SHIFT_HELDOUT_SET),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
