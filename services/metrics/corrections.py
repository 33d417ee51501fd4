"""Operators' reclassifications, read back from the case store as training rows for the classifier.

``hotline corrections export`` writes them in the format ``hotline train --corrections`` reads: one JSON
object per line with call_id, subject, body, category, subcategory, item, corrected_at, actor. A case
reclassified several times gives one row, with its current (latest) classification.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pymongo.asynchronous.database import AsyncDatabase

from services.metrics.repository import CASES
from shared.events import CaseEventKind

RECLASSIFIED = CaseEventKind.reclassified.value


def correction_record(case: Mapping[str, Any]) -> dict[str, Any] | None:
    """The training row of a reclassified case, or None when no applied step reclassified it."""
    steps = [
        step
        for step in case.get("history") or []
        if step.get("kind") == RECLASSIFIED and step.get("outcome", "applied") == "applied"
    ]
    if not steps:
        return None
    latest = steps[-1]
    call, classification = case.get("call") or {}, case.get("classification") or {}
    corrected_at = latest.get("at")
    return {
        "call_id": str(case["_id"]),
        "subject": call.get("subject") or "",
        "body": call.get("body") or "",
        "category": classification.get("category"),
        "subcategory": classification.get("subcategory"),
        "item": classification.get("item"),
        "corrected_at": corrected_at.isoformat() if isinstance(corrected_at, datetime) else str(corrected_at),
        "actor": latest.get("actor") or "",
    }


async def export_corrections(db: AsyncDatabase, out: TextIO) -> int:
    """Write every reclassified case of ``db`` as a JSON line to ``out``; returns how many."""
    written = 0
    projection = {"call.subject": 1, "call.body": 1, "classification": 1, "history": 1}
    async for case in db[CASES].find({"history.kind": RECLASSIFIED}, projection).sort("_id", 1):
        record = correction_record(case)
        if record is not None and record["category"]:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    return written


def default_path(home: Path) -> Path:
    return home / "corrections.jsonl"
