"""Figures beyond level-1 macro-F1: the review-threshold trade-off, and agreement with the team-written
labelled sets (levels 1-3 in Chinese, English requests).

``python -m services.classifier.evaluation`` prints them for the shipped (or ``--model``) artifact.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.classifier.model import Classifier

TEAM_DATA = Path(__file__).resolve().parents[2] / "tests" / "unit" / "classifier" / "data"
LEVELS_SET = TEAM_DATA / "classifier_levels_team_written.jsonl"
ENGLISH_SET = TEAM_DATA / "classifier_english_team_written.jsonl"
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
        }
    return result


def team_set_figures(model: Classifier) -> dict:
    """Agreement on both team-written sets, when they are present (they live with the tests)."""
    figures = {}
    for name, path in (("chinese_levels", LEVELS_SET), ("english", ENGLISH_SET)):
        if path.exists():
            figures[name] = {"file": path.name, **agreement(model, read_labelled_jsonl(path))}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="artifact directory (default: shipped)")
    args = parser.parse_args(argv)
    model = Classifier.load(args.model)
    print(json.dumps(team_set_figures(model), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
