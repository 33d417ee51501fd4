"""Operators' reclassifications as extra labelled rows for ``hotline train --corrections FILE.jsonl``.

One JSON object per line: {"call_id", "subject", "body", "category", "subcategory", "item", "corrected_at",
"actor"}. A correction wins over a CSV row with the same text; the latest correction of a text wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.classifier.features import message_text


class CorrectionError(ValueError):
    """A corrections file that cannot be used; the message names the line."""


@dataclass(frozen=True)
class Correction:
    call_id: str
    subject: str
    body: str
    category: str
    subcategory: str | None
    item: str | None
    corrected_at: str
    actor: str


REQUIRED = ("call_id", "body", "category")


def parse_corrections(lines: Iterable[str], level1: Sequence[str]) -> list[Correction]:
    """The corrections in ``lines``; raises CorrectionError listing every bad line (number and reason)."""
    known = set(level1)
    corrections: list[Correction] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            problems.append(f"line {number}: invalid JSON ({exc})")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {number}: expected a JSON object")
            continue
        missing = [name for name in REQUIRED if not isinstance(record.get(name), str) or not record[name].strip()]
        if missing:
            problems.append(f"line {number}: missing or empty {', '.join(missing)}")
            continue
        category = record["category"].strip()
        if category not in known:
            problems.append(f"line {number}: unknown category {category!r}")
            continue
        corrections.append(
            Correction(
                call_id=record["call_id"],
                subject=str(record.get("subject") or ""),
                body=record["body"],
                category=category,
                subcategory=record.get("subcategory") or None,
                item=record.get("item") or None,
                corrected_at=str(record.get("corrected_at") or ""),
                actor=str(record.get("actor") or ""),
            )
        )
    if problems:
        shown = "; ".join(problems[:20]) + ("; ..." if len(problems) > 20 else "")
        raise CorrectionError(f"{len(problems)} bad correction line(s): {shown}. Known categories: {sorted(known)}")
    return corrections


def read_corrections(path: Path, level1: Sequence[str]) -> list[Correction]:
    with path.open(encoding="utf-8-sig") as handle:
        return parse_corrections(handle, level1)


@dataclass(frozen=True)
class MergeReport:
    corrections: int
    replaced_rows: int
    added_rows: int


def merge_corrections(
    texts: Sequence[str], labels: Sequence[str], corrections: Sequence[Correction]
) -> tuple[list[str], list[str], MergeReport]:
    """Training texts and labels with the corrections applied: same text relabelled, new texts appended."""
    latest: dict[str, str] = {}
    for correction in sorted(corrections, key=lambda c: c.corrected_at):
        latest[message_text(correction.subject, correction.body)] = correction.category
    merged_texts, merged_labels = list(texts), list(labels)
    replaced = 0
    for index, text in enumerate(merged_texts):
        if text in latest:
            merged_labels[index] = latest[text]
            replaced += 1
    present = set(merged_texts)
    added = [text for text in latest if text not in present]
    merged_texts.extend(added)
    merged_labels.extend(latest[text] for text in added)
    return merged_texts, merged_labels, MergeReport(len(corrections), replaced, len(added))
