"""Operators' reclassifications stored on cases come back out as rows `hotline train --corrections` accepts."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from services.classifier.corrections import parse_corrections
from services.metrics.corrections import export_corrections
from shared.reference import load_taxonomy

pytestmark = pytest.mark.integration


def _case(call_id: str, history: list[dict], category: str) -> dict:
    return {
        "_id": call_id,
        "call": {"subject": "路灯不亮", "body": "小区路灯坏了一个月"},
        "classification": {"category": category, "subcategory": "市政公用设施", "item": None},
        "history": history,
    }


async def test_reclassified_cases_are_exported_once_with_their_latest_category(mongo_db) -> None:
    at = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    await mongo_db["cases"].insert_many(
        [
            _case("a", [{"kind": "accepted", "at": at, "actor": "u"}], "城乡建设"),
            _case(
                "b",
                [
                    {"kind": "reclassified", "at": at, "actor": "sup-1", "outcome": "applied"},
                    {"kind": "reclassified", "at": at.replace(hour=9), "actor": "sup-2", "outcome": "applied"},
                ],
                "城乡建设",
            ),
            _case("c", [{"kind": "reclassified", "at": at, "actor": "sup-1", "outcome": "rejected"}], "民政"),
        ]
    )
    out = io.StringIO()
    assert await export_corrections(mongo_db, out) == 1
    [row] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert row["call_id"] == "b" and row["actor"] == "sup-2" and row["corrected_at"].startswith("2026-05-01T09:00")
    # What was exported is exactly what training reads.
    [correction] = parse_corrections(out.getvalue().splitlines(), list(load_taxonomy()))
    assert correction.category == "城乡建设" and correction.body == "小区路灯坏了一个月"
