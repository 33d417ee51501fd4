"""The seeded history of ``hotline bench --stored``: a year of cases, most finished, every step legal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.seed import MARKER, STORE_FORMAT, build_or_reuse, history
from services.metrics.case_facts import OPEN_STATUSES, apply_case_event, case_document

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def final_cases(count: int) -> list[dict]:
    cases = []
    for seeded in history(count, NOW):
        case = case_document(seeded.routed, "Asia/Shanghai")
        for step in seeded.steps:
            outcome = apply_case_event(case, step)
            assert outcome.outcome == "applied", (step.kind, outcome.reason)
            case = outcome.case
        cases.append(case)
    return cases


def test_a_year_of_cases_oldest_first_with_about_five_percent_open() -> None:
    cases = final_cases(4000)

    received = [case["received_at"] for case in cases]
    assert received == sorted(received)
    assert NOW - timedelta(days=366) < received[0] < NOW - timedelta(days=364)
    assert len({case["month"] for case in cases}) in (12, 13)
    open_share = sum(case["status"] in OPEN_STATUSES for case in cases) / len(cases)
    assert 0.03 < open_share < 0.08
    assert sum(case["status"] == "closed" for case in cases) / len(cases) > 0.85


def test_the_history_holds_returns_whistles_duplicates_and_callbacks() -> None:
    cases = final_cases(4000)

    assert sum(case.get("returned_count", 0) > 0 for case in cases) > 50
    assert sum(bool(case.get("summoned")) for case in cases) > 20
    assert sum(case["status"] == "linked" for case in cases) > 50
    answers = {case.get("callback_result") for case in cases} - {None}
    assert {"satisfied", "dissatisfied", "unreachable"} <= answers


def test_the_same_size_gives_the_same_history() -> None:
    first = [seeded.routed.call_id for seeded in history(200, NOW)]
    assert first == [seeded.routed.call_id for seeded in history(200, NOW)]
    assert len(set(first)) == 200


def test_a_store_built_by_an_older_release_is_not_reused(tmp_path: Path) -> None:
    """Its counters are laid out differently (one area counter per street, problem and day): a benchmark on it
    would read no history for the hot-spot check. A store of this release's format is reused as it is."""
    old = tmp_path / "old"
    old.mkdir()
    (old / MARKER).write_text(json.dumps({"stored": 10, "new_cases": 10}))
    with pytest.raises(SystemExit, match=r"older release \(format 1, now 2"):
        build_or_reuse(old, 10, "hotline_bench")

    current = tmp_path / "current"
    current.mkdir()
    (current / MARKER).write_text(json.dumps({"stored": 10, "new_cases": 10, "format": STORE_FORMAT}))
    assert build_or_reuse(current, 10, "hotline_bench")["format"] == STORE_FORMAT
